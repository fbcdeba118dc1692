"""A DSN's Action word (RFC 3464) is read as the enum, and any other word is no report."""

from __future__ import annotations

import pytest

from mailcorpus import render
from protest_dispatch.inbox.classify import parse, read_bounce, read_headers
from protest_dispatch.vocabulary import DsnAction


def _actions(word: str) -> list[DsnAction]:
    raw = render("dsn-postfix").replace(b"Action: failed", b"Action: " + word.encode())
    bounce = read_bounce(parse(raw), headers=read_headers(raw))
    assert bounce.structured
    return [report.action for report in bounce.reports]


@pytest.mark.parametrize("action", list(DsnAction))
def test_every_rfc_3464_action_is_read_in_any_case(action: DsnAction) -> None:
    assert _actions(action.upper()) == [action]


@pytest.mark.parametrize("word", ["exploded", "fai\u0130led", "", "failed; really", "\x1b[31m"])
def test_an_unknown_action_is_no_report_and_no_exception(word: str) -> None:
    assert _actions(word) == []
