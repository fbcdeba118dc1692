"""Helpers for the end-to-end ``protest send`` tests: a campaign on disk and ways to run the CLI.

Every run talks to a test server on 127.0.0.1 (see smtp_server.py); the campaign's
addresses are all @example.org and never leave this machine.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from protest_dispatch.cli.app import app
from smtp_server import Server

SENDER_NAME = "Ana Example"
SENDER = "ana@example.org"
FROM = f"{SENDER_NAME} <{SENDER}>"
CAMPAIGN = "free-them"
CAMPAIGN_CC = "press@example.org"
SRC = Path(__file__).resolve().parents[1] / "src"

LOG_KEYS = {
    "campaign",
    "target",
    "to",
    "cc",
    "status",
    "attempts",
    "smtp_code",
    "error",
    "message_id",
    "updated_at",
    "refused",
}


def official(number: int) -> str:
    return f"official-{number}@example.org"


def make_campaign(
    root: Path,
    *,
    targets: int = 3,
    campaign_cc: Sequence[str] = (CAMPAIGN_CC,),
    target_cc: Mapping[int, Sequence[str]] | None = None,
    campaign_id: str = CAMPAIGN,
) -> Path:
    """A campaign folder with ``targets`` letters to official-1..N@example.org; returns its file.

    ``target_cc`` maps a target number to that target's own copy addresses.
    """
    root.mkdir(parents=True, exist_ok=True)
    letters = root / "letters"
    letters.mkdir(exist_ok=True)
    (letters / "appeal.txt.j2").write_text(
        "Dear {{ target.name }},\n\nPlease drop the charges.\n\nYours,\n{{ sender.name }}\n",
        encoding="utf-8",
    )
    lines = [
        "campaign:",
        f"  id: {campaign_id}",
        '  subject: "Drop the charges"',
    ]
    if campaign_cc:
        lines.append("  cc: [" + ", ".join(campaign_cc) + "]")
    lines.append("targets:")
    for number in range(1, targets + 1):
        lines += [
            f"  - id: t{number:02d}",
            f'    name: "Official {number}"',
            f"    email: {official(number)}",
            "    template: appeal.txt.j2",
        ]
        copies = (target_cc or {}).get(number, ())
        if copies:
            lines.append("    cc: [" + ", ".join(copies) + "]")
    path = root / "targets.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def env_for(
    server: Server | None, *, log: Path, port: int | None = None, **extra: str
) -> dict[str, str]:
    """The PROTEST_* settings of a run against ``server`` (or a bare ``port``)."""
    env = {
        "PROTEST_FROM": FROM,
        "PROTEST_SMTP_HOST": "127.0.0.1",
        "PROTEST_SMTP_PORT": str(port if port is not None else server.port if server else 25),
        "PROTEST_SMTP_SECURITY": "none",
        "PROTEST_LOG": str(log),
    }
    env.update(extra)
    return env


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def cli(args: Sequence[str], *, env: Mapping[str, str]) -> Run:
    """Run ``protest`` in this process; CliRunner's stdin is not a terminal."""
    result = CliRunner().invoke(app, list(args), env=dict(env), catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def send(
    campaign: Path, *args: str, env: Mapping[str, str], yes: bool = True, rate: str = "0"
) -> Run:
    return cli(
        ["send", "-t", str(campaign), "--rate", rate, *(["--yes"] if yes else []), *args],
        env=env,
    )


def log_rows(env: Mapping[str, str], *args: str) -> list[dict[str, Any]]:
    run = cli(["log", "--json", *args], env=env)
    assert run.code == 0, run.output
    rows = json.loads(run.stdout)
    assert isinstance(rows, list)
    return rows


def by_target(rows: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {str(row["target"]): row for row in rows}


def subprocess_env(env: Mapping[str, str]) -> dict[str, str]:
    """This process's (test-isolated) environment plus ``env``, with ``src`` importable."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PROTEST_")}
    base.update(env)
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), base.get("PYTHONPATH")]))
    return base


def spawn(campaign: Path, *args: str, env: Mapping[str, str]) -> subprocess.Popen[str]:
    """``protest send --yes`` as a child process (for kill -9 and lock tests)."""
    return subprocess.Popen(
        [sys.executable, "-m", "protest_dispatch", "send", "-t", str(campaign), "--yes", *args],
        env=subprocess_env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )


def default_sigint() -> None:
    """In the child: Ctrl-C acts again even if the runner ignores it (a background job does),
    so the child's Python turns SIGINT into KeyboardInterrupt as it would for a user."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def statuses(log: Path) -> dict[str, str]:
    """target -> status, read straight from the SQLite file."""
    with sqlite3.connect(log) as conn:
        return {str(t): str(s) for t, s in conn.execute("SELECT target, status FROM letters")}


def deliveries_per_address(*servers: Server) -> Counter[str]:
    """How many messages each envelope recipient got, across servers."""
    counts: Counter[str] = Counter()
    for server in servers:
        for message in server.messages:
            counts.update(a.casefold() for a in message.rcpt_tos)
    return counts


def record_mail_times(server: Server) -> list[float]:
    """Start noting when each MAIL FROM arrives (monotonic seconds) on ``server``.

    aiosmtpd looks the hooks up on the handler per connection, so wrapping the
    instance's hook before the client connects catches every transaction.
    """
    times: list[float] = []
    handler = server.handler
    original = handler.handle_MAIL

    async def handle_MAIL(*args: Any) -> str:
        times.append(time.monotonic())
        return await original(*args)

    handler.handle_MAIL = handle_MAIL  # type: ignore[method-assign]  # instance-level hook wrap
    return times
