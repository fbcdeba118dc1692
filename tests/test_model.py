"""The fast path for plain addresses must agree with email-validator exactly."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from profiles import budget
from protest_dispatch.campaign.fields import SPECIAL_USE_DOMAINS, _plainly_valid, email_address

ATOM = "abcXYZ019!#$%&'*+/=?^_`{|}~-."
DOMAIN = "abcXYZ019-."


def library(value: str) -> str | None:
    try:
        checked = validate_email(
            value,
            check_deliverability=False,
            allow_smtputf8=False,
            allow_display_name=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
        )
    except EmailNotValidError:
        return None
    return checked.ascii_email or checked.normalized


@settings(max_examples=budget(400))
@given(
    st.text(ATOM, min_size=1, max_size=70),
    st.text(DOMAIN, min_size=1, max_size=40),
    st.sampled_from(["org", "KZ", "c1", "x", "local", "test", "xn--p1ai", "com", "123"]),
)
def test_fast_path_accepts_only_what_the_library_accepts_unchanged(
    local: str, domain: str, tld: str
) -> None:
    value = f"{local}@{domain}.{tld}"
    fast = _plainly_valid(value)
    if fast is not None:
        assert library(value) == fast


@pytest.mark.parametrize(
    "value",
    [
        "London@MFA.kz",
        "mid@mid.kz",
        "a.b+c@sub.example.org",
        "x_y@example.co.uk",
        "a@b.local",
        "a..b@example.org",
        "a@-x.org",
        "a@x-.org",
        "a@b.c1",
        "a@xn--p1ai.example",
        "x" * 64 + "@example.org",
        ".a@example.org",
        "a.@example.org",
    ],
)
def test_known_addresses_get_the_library_answer(value: str) -> None:
    try:
        ours: str | None = email_address(value)
    except ValueError:
        ours = None
    assert ours == library(value)


def test_a_local_part_over_64_characters_is_refused_though_the_library_takes_it() -> None:
    """RFC 5321 4.5.3.1.1: a server may refuse it, and the letter would bounce after sending."""
    value = "x" * 65 + "@example.org"
    assert library(value) is not None
    with pytest.raises(ValueError, match="65 characters before the '@'"):
        email_address(value)


def test_the_special_use_domains_are_the_libraries() -> None:
    from email_validator import SPECIAL_USE_DOMAIN_NAMES

    assert tuple(SPECIAL_USE_DOMAIN_NAMES) == SPECIAL_USE_DOMAINS
