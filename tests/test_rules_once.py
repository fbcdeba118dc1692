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
