"""Addresses in a bounce's words: whole addresses, and a failure stated beside each."""

from __future__ import annotations

import pytest

from protest_dispatch.inbox.mentions import failed_near

TO = "info@court.example.org"
COPY = "press@court.example.org"


@pytest.mark.parametrize(
    ("notice", "failed"),
    [
        (f"<{TO}>: 550 5.1.1 User unknown\n", {TO}),
        (f"<press-{TO}>: 550 5.1.1 User unknown\n", set()),
        (f"<{TO}x.example>: 550 5.1.1 User unknown\n", set()),
        (f"<{TO}>: delivered to maildir\n", set()),
        (f"<{TO}>: delivered to maildir\n<{COPY}>: 552 5.2.2 Mailbox full\n", {COPY}),
        (f"<{COPY}>: 552 5.2.2 Mailbox full; <{TO}>: delivered\n", {COPY}),
        (f"Your message wasn't delivered to {TO} because it couldn't be found.\n", {TO}),
        (f"Delivery to {TO} succeeded.\n\nSome other paragraph: 550 5.1.1\n", set()),
        (f"{TO}\n" + "x" * 400 + " 550 5.1.1\n", set()),  # too far away to be about it
    ],
)
def test_a_failure_counts_only_for_the_whole_address_it_stands_beside(
    notice: str, failed: set[str]
) -> None:
    assert {a for a in (TO, COPY) if failed_near(notice, a) is not None} == failed
