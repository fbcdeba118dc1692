"""The send log's records as values, and the one time format the log uses.

Rows are decoded here, strictly: a value that is not what the schema promises is a
``ValueError`` that the store reports as a damaged row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from protest_dispatch.vocabulary import CallOutcome, LetterStatus

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
LETTER_COLUMNS = (
    "campaign, target, sender, to_addr, cc, status, attempts, smtp_code, error, message_id,"
    " updated_at, refused, next_attempt_at, campaign_sha256"
)
"""A letter's columns, in the order :class:`Entry` is read from (``letters``, and
``earlier_letters`` for the letters a resend replaced)."""


def utc_now() -> str:
    """Now as ISO 8601 UTC at second precision, the only time format in the log."""
    return format_time(datetime.now(UTC))


def format_time(moment: datetime) -> str:
    """Format an aware datetime the way the log stores it, e.g. ``2026-11-28T23:59:01Z``."""
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {moment.isoformat()}")
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_time(value: str) -> datetime:
    """Parse an ISO 8601 timestamp with a zone (``Z`` or an offset) into an aware UTC datetime."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {value!r} (add 'Z' for UTC)")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Entry:
    """One letter: who it goes to, what happened to it last, and when to try again."""

    campaign: str
    target: str
    sender: str
    to: str
    cc: tuple[str, ...]
    status: LetterStatus
    attempts: int
    smtp_code: int | None
    error: str | None
    message_id: str | None
    updated_at: str
    refused: tuple[str, ...]
    next_attempt_at: str | None
    campaign_sha256: str | None = None
    """SHA-256 of the signed MANIFEST (or of targets.yaml, unsigned) it was sent under."""


@dataclass(frozen=True)
class Call:
    """A phone call an activist logged alongside the letters."""

    campaign: str
    target: str
    sender: str
    outcome: CallOutcome
    note: str | None
    at: str


@dataclass(frozen=True)
class Post:
    """A letter on paper the sender said they posted (``protest posted``)."""

    campaign: str
    target: str
    sender: str
    posted_on: str
    """The day it went in the post, YYYY-MM-DD."""
    recorded_at: str

    @property
    def letter_id(self) -> str:
        """What findings (``protest followup``'s answers) name this letter by; no Message-ID."""
        return f"post:{self.campaign}/{self.target}/{self.sender}/{self.posted_on}"


@dataclass
class Reservation:
    """Recipients taken from a sender's quota for one letter not yet begun.

    The usage row is written when the reservation is made, so it counts for every
    run at once; ``SendLog.begin`` turns it into that letter's usage (``settled``), and
    ``release_usage`` gives it back if the letter is never attempted.
    """

    id: int
    sender: str
    recipients: int
    settled: bool = False


def as_status(value: object) -> LetterStatus:
    try:
        return LetterStatus(str(value))
    except ValueError:
        raise ValueError(
            f"unknown status {value!r}; expected one of {', '.join(LetterStatus)}"
        ) from None


def as_outcome(value: object) -> CallOutcome | None:
    try:
        return CallOutcome(str(value))
    except ValueError:
        return None


def json_list(value: object) -> tuple[str, ...]:
    items = json.loads(str(value))
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ValueError(f"expected a JSON list of strings, found {value!r}")
    return tuple(items)


def opt_int(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int):
        raise ValueError(f"expected an integer, found {value!r}")
    return value


def opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
