"""Helpers for the tests of init, doctor, calls, called and status.

The campaign mixes letters (to official-N@example.org, delivered only to a test
server on 127.0.0.1) with phone-only targets, the way real campaigns do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import keyring
from keyring.backend import KeyringBackend
from typer.testing import CliRunner

from protest_dispatch.cli.app import app
from sendkit import FROM, Run, official

CALL_SCRIPT = (
    "Hello, this is {{ sender.name }}. I am calling {{ target.name }} about the four "
    "activists. Please drop the charges.\n"
)


def make_call_campaign(root: Path, *, letters: int = 2, campaign_id: str = "free-them") -> Path:
    """Letters t01..tNN, plus calls: court (script, zone, hours), admin (no script),
    embassy-gb and embassy-us (zone from the country only), and desk (a letter target with
    a phone number)."""
    root.mkdir(parents=True, exist_ok=True)
    folder = root / "letters"
    folder.mkdir(exist_ok=True)
    (folder / "appeal.txt.j2").write_text(
        "Dear {{ target.name }},\n\nPlease drop the charges.\n"
        "{% if sender.note %}\n{{ sender.note }}\n{% endif %}\n"
        "Yours,\n{{ sender.name }}\n",
        encoding="utf-8",
    )
    (folder / "court-call.txt.j2").write_text(CALL_SCRIPT, encoding="utf-8")
    lines = [
        "campaign:",
        f"  id: {campaign_id}",
        '  subject: "Drop the charges against the four"',
        "targets:",
    ]
    for number in range(1, letters + 1):
        lines += [
            f"  - id: t{number:02d}",
            f'    name: "Official {number}"',
            f"    email: {official(number)}",
            "    template: appeal.txt.j2",
        ]
    lines += [
        "  - id: court",
        '    name: "Judge Example"',
        '    role: "Head of the Court"',
        '    phone: "+7 7172 000000"',
        "    timezone: Asia/Almaty",
        '    office_hours: "Mon-Fri 09:00-18:00"',
        "    call_script: court-call.txt.j2",
        "  - id: admin",
        '    name: "The Administration"',
        '    phone: "+7 7172 000001"',
        "  - id: embassy-gb",
        '    name: "Embassy in the UK"',
        '    phone: "+44 20 0000 0000"',
        "    country: GB",
        "  - id: embassy-us",
        '    name: "Embassy in the US"',
        '    phone: "+1 202 000 0000"',
        "    country: US",
        "  - id: desk",
        '    name: "Press desk"',
        "    email: desk@example.org",
        '    phone: "+7 7172 000002"',
        "    template: appeal.txt.j2",
    ]
    path = root / "targets.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(
    args: Sequence[str], *, env: Mapping[str, str] | None = None, input: str | None = None
) -> Run:
    """``protest`` in this process, with answers for its prompts on stdin (not a terminal)."""
    result = CliRunner().invoke(
        app, list(args), env=dict(env or {}), input=input, catch_exceptions=False
    )
    return Run(result.exit_code, result.stdout, result.stderr)


def answers(*lines: str) -> str:
    return "".join(f"{line}\n" for line in lines)


def sender_env(log: Path, **extra: str) -> dict[str, str]:
    env = {"PROTEST_FROM": FROM, "PROTEST_LOG": str(log)}
    env.update(extra)
    return env


class MemoryKeyring(KeyringBackend):
    """A real keyring backend that keeps passwords in this process, for tests."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # keyring's base is untyped
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


@contextlib.contextmanager
def using_keyring(backend: KeyringBackend) -> Iterator[KeyringBackend]:
    """Make ``backend`` the process's keyring for a while, then put the old one back."""
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)
