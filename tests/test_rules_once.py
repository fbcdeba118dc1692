"""Each rule is defined once: these checks keep a second copy from coming back."""

from __future__ import annotations

import re
from pathlib import Path

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
