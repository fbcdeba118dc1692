"""Each rule is defined once: these checks keep a second copy from coming back."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "protest_dispatch"


def _sources() -> dict[str, str]:
    return {
        str(path.relative_to(PACKAGE)): path.read_text(encoding="utf-8")
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def _offenders(pattern: str, *, allowed: set[str]) -> list[str]:
    found = re.compile(pattern)
    return [
        f"{name}:{number}: {line.strip()}"
        for name, text in _sources().items()
        if name not in allowed
        for number, line in enumerate(text.splitlines(), start=1)
        if found.search(line)
    ]


def test_the_same_mailbox_is_decided_by_addresses_mailbox_only() -> None:
    """casefold and lower disagree on non-ASCII addresses; one rule decides (addresses.py)."""
    assert not _offenders(r"\.casefold\(\)", allowed={"addresses.py"})
    address_lowered = (
        r"\b\w*(?:addr|address|addresses|email|to|cc|recipient|sender|mailbox)\w*"
        r"(?:\)|\])?\.lower\(\)"
    )
    # classify lowers a bounce notice and an address to *find* the one in the other
    searching = "inbox/classify.py"
    assert not _offenders(address_lowered, allowed={"addresses.py", searching})


def test_the_send_defaults_are_written_once() -> None:
    """2 connections, 20 a minute, 3 tries: SendOptions holds them; the CLI shows its values."""
    assert not _offenders(
        r"\b(concurrency|rate|attempts)\b\s*(:\s*[\w |]+)?=\s*(2|20|3)(\.0)?\b",
        allowed={"delivery/options.py"},
    )
    assert not _offenders(r"\]\s*=\s*(2|20|3)\s*,\s*$", allowed=set())


def test_the_smtp_overrides_are_one_value() -> None:
    """--smtp-host and its four siblings travel as one SmtpOverrides, not five parameters."""
    assert not _offenders(
        r"\bsmtp_(host|port|security|ca_file|auth)\s*:\s*(str|int|Path)\b[\w |]*=\s*None",
        allowed={"settings/model.py", "commands/login.py"},  # the model; login's one host
    )


def test_one_place_decides_one_beats_seventy_five() -> None:
    """A run's exit code (a person needed beats "try later") is Summary.exit_code's alone."""
    deciding = [
        name
        for name, text in _sources().items()
        if "return ExitCode.FAILED" in text and "return ExitCode.TEMPFAIL" in text
    ]
    assert deciding == ["delivery/dispatch.py"]


def test_control_characters_are_defined_in_text_py_only() -> None:
    """Copies of the control class missed C1 (CSI, U+009B, drives a terminal like ESC [)."""
    character_class = r"\[[^\]\"]*\\x(00|1f|7f)|ord\(\w+\)\s*<\s*32"
    # attachments.py sniffs whether a file's *bytes* are text (C1 bytes are UTF-8's own)
    assert not _offenders(character_class, allowed={"text.py", "campaign/attachments.py"})


CSI = "\x9b"


def test_every_reader_of_untrusted_text_drops_c1_controls() -> None:
    import base64

    from protest_dispatch.cli.answers import login_name
    from protest_dispatch.mail.envelope import address_problem
    from protest_dispatch.mail.xoauth2 import _decode_challenge
    from protest_dispatch.oauth.client import OAuthReply
    from protest_dispatch.text import one_line

    assert one_line(f" 550 no{CSI}31m such\x1b[0m user\r\n") == "550 no 31m such [0m user"
    reply = OAuthReply(f"invalid_grant{CSI}2J", f"bad{CSI}31m")
    assert CSI not in reply.error + reply.description
    challenge = base64.b64encode(f'{{"status":"401{CSI}2J","scope":"x{CSI}"}}'.encode()).decode()
    assert CSI not in "".join(filter(None, _decode_challenge(challenge)))
    assert address_problem(f"ana{CSI}@example.org") is not None
    try:
        login_name(f"ana{CSI}")
    except ValueError:
        pass
    else:
        raise AssertionError("the wizard took a username with a C1 control")


def test_statuses_and_outcomes_are_enums_not_string_literals() -> None:
    """A status or outcome compared with, or passed as, a string literal escapes mypy."""
    from protest_dispatch.vocabulary import CallOutcome, LetterStatus

    words = "|".join(sorted({*LetterStatus, *CallOutcome}, key=len, reverse=True))
    literal = rf"""(==|!=|\bstatus\(|\boutcome\(|with_status\()\s*["']({words})["']"""
    # a DSN's Action (RFC 3464: failed, delayed) is the mail system's word, not ours
    assert not [line for line in _offenders(literal, allowed=set()) if ".action" not in line]
    assert not _offenders(r"\b(status|outcome)\s*:\s*str\b(?!\s*\|\s*None)", allowed=set())


def test_every_status_and_outcome_has_its_colour() -> None:
    from protest_dispatch.cli.output import STATUS_STYLES
    from protest_dispatch.vocabulary import CallOutcome, LetterStatus

    assert set(STATUS_STYLES) == {*LetterStatus, *CallOutcome}


def test_one_file_lock_implementation() -> None:
    """The run lock and the sign-in lock share files.exclusive_lock."""
    assert not _offenders(r"\bfcntl\b", allowed={"files.py"})


def test_provider_servers_are_named_in_providers_py_only() -> None:
    """The host-to-provider pairs (which OAuth a server implies) live with the presets."""
    assert not _offenders(
        r"""["'](smtp|imap)[.-][a-z0-9-]+\.[a-z0-9.-]+["']""", allowed={"settings/providers.py"}
    )


def test_a_microsoft_365_server_implies_microsoft_sign_in() -> None:
    from protest_dispatch.settings.providers import by_host

    found = by_host("SMTP.Office365.com.")
    assert found is not None
    assert found.key == "outlook"


def test_shared_options_are_declared_in_cli_options_only() -> None:
    assert not _offenders(
        r"""typer\.Option\(\s*["']--(campaign|quiet)["']""", allowed={"cli/options.py"}
    )


def test_the_wizard_checks_answers_through_the_settings_model() -> None:
    """init refuses what the config file would refuse, in the model's words, not its own."""
    from protest_dispatch.cli.answers import limit, port, security
    from protest_dispatch.vocabulary import Security

    assert security(" TLS ") is Security.TLS
    assert port("465") == 465
    assert limit("") is None
    for check, answer, words in (
        (port, "70000", "port number from 1 to 65535"),
        (port, "five", "whole number"),
        (security, "ssl", "starttls, tls, none"),
        (limit, "-1", "0 \\(no limit\\) or more"),
    ):
        with pytest.raises(ValueError, match=words):
            check(answer)
    assert not _offenders(r"in tuple\((Security|AuthMode|OAuthProvider)\)", allowed=set())
    wizard = _sources()["cli/wizard.py"] + _sources()["cli/answers.py"]
    assert not re.search(r"6553[56]|tuple\(Security\)|isdigit\(\) or int", wizard)


def test_smtp_settings_refuse_an_unknown_security_when_built() -> None:
    """Built without the model, a wrong security fails at once, never as clear text."""
    from protest_dispatch.settings.smtp import SmtpSettings

    with pytest.raises(ValueError, match="bogus"):
        SmtpSettings(host="127.0.0.1", port=25, security="bogus", helo_name="example.org")  # type: ignore[arg-type]
