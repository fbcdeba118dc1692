"""What a reply (or its absence) means for one letter: the outcome, apart from the protocol.

"The server said no" and "we cannot know whether the server has it" (RFC 1047)
are told apart here: only a letter whose data went out may be ``uncertain``.
A verdict with ``reconnect`` means the session is unusable; any other refusal
after MAIL leaves a transaction for the caller to reset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiosmtplib import SMTPStatus

from protest_dispatch.mail import wording
from protest_dispatch.vocabulary import LetterStatus

Tidy = Callable[[str], str]


@dataclass(frozen=True)
class Delivery:
    """What became of one letter, and whether the connection is still good.

    ``sent``: the server took responsibility (250). ``deferred``: a 4xx or a
    failure before DATA; nothing was delivered, try again later. ``failed``: a
    5xx or a letter that cannot go through this server; retrying will not help.
    ``uncertain``: the letter was transmitted but no verdict came back; the
    server may have it, so it must not be sent again blindly.
    """

    outcome: LetterStatus
    code: int | None  # the SMTP reply code that decided it, if any
    message: str  # server text, or a plain description of the local error
    refused: tuple[str, ...] = ()  # copies refused at RCPT, as "addr: 550 text"
    reconnect: bool = False  # open a fresh connection before the next letter


def is_reply(code: int) -> bool:
    """A transient (4xx) or permanent (5xx) refusal, as opposed to nonsense."""
    return 400 <= code < 600


def _refusal(code: int) -> LetterStatus:
    return LetterStatus.DEFERRED if code < 500 else LetterStatus.FAILED


def before_data(whom: str, code: int, text: str, tidy: Tidy) -> Delivery:
    """A reply refused MAIL or RCPT: nothing was delivered, only the verdict varies."""
    if code == SMTPStatus.domain_unavailable:
        return Delivery(
            LetterStatus.DEFERRED, code, wording.closing(code, tidy(text)), reconnect=True
        )
    if is_reply(code):
        return Delivery(_refusal(code), code, wording.refused(whom, code, tidy(text)))
    # a reply no SMTP server should give here: the dialogue is out of step
    return Delivery(
        LetterStatus.DEFERRED, code, wording.unexpected(whom, tidy(text)), reconnect=True
    )


def broken_before_data(*, during: str, timeout: float | None) -> Delivery:
    """No reply before DATA (lost, or silent for ``timeout`` seconds): nothing delivered."""
    return Delivery(
        LetterStatus.DEFERRED,
        None,
        wording.broken_before_data(during, timeout=timeout),
        reconnect=True,
    )


def copy_refused(code: int) -> bool:
    """A refused copy is noted and the letter goes on, unless the session is ending."""
    return code != SMTPStatus.domain_unavailable and is_reply(code)


def at_data(code: int, text: str, refused: tuple[str, ...], tidy: Tidy) -> Delivery:
    """A reply to DATA or to the end of data is a verdict, unless it is nonsense."""
    if is_reply(code):
        return Delivery(
            _refusal(code),
            code,
            wording.refused_letter(code, tidy(text)),
            refused,
            reconnect=code == SMTPStatus.domain_unavailable,
        )
    return Delivery(
        LetterStatus.UNCERTAIN,
        code,
        wording.unexpected_at_data(code, tidy(text)),
        refused,
        reconnect=True,
    )


def lost_after_data(*, timeout: float | None, refused: tuple[str, ...]) -> Delivery:
    """The data went out and the verdict did not come back: the server may have it."""
    return Delivery(
        LetterStatus.UNCERTAIN,
        None,
        wording.uncertain_after_data(timeout=timeout),
        refused,
        reconnect=True,
    )
