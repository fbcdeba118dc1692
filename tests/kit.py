"""The test kit: one campaign builder, one CLI runner, and the checks the tests share.

Registered as a pytest plugin in ``conftest.py``; tests import its functions and use
its fixtures (``campaign``, ``cli_env``). Every address is @example.org and every
server a test talks to listens on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import os
import select
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.policy import Policy
from pathlib import Path
from typing import IO, Any, cast

import keyring
import pytest
from keyring.backend import KeyringBackend
from typer.testing import CliRunner

from protest_dispatch.campaign.compose import Composer
from protest_dispatch.campaign.loading import load_campaign
from protest_dispatch.campaign.message import Letter
from protest_dispatch.campaign.model import Sender
from protest_dispatch.cli.app import app
from protest_dispatch.errors import CampaignError, Problem
from protest_dispatch.oauth.device import Pacing
from smtp_server import Server

SENDER_NAME = "Ana Example"
SENDER = "ana@example.org"
FROM = f"{SENDER_NAME} <{SENDER}>"
ANA = Sender(name=SENDER_NAME, email=SENDER, country="GB")
"""The sender as the campaign layer sees her."""
TODAY = date(2011, 9, 21)
CAMPAIGN = "free-them"
CAMPAIGN_CC = "press@example.org"
SRC = Path(__file__).resolve().parents[1] / "src"

# -- one campaign builder ----------------------------------------------------------------------

BASIC = """\
campaign:
  id: free-them
  title: "Free them"
  subject: "Drop the charges, {{ target.name }}"
targets:
  - id: court
    name: "Judge Example"
    role: "Head of the Court"
    email: court@example.org
    template: court.md.j2
"""

BASIC_LETTERS = {
    "court.md.j2": "Dear {{ target.name }},\n\nPlease **drop the charges**.\n\n{{ sender.name }}\n",
}

APPEAL = (
    "Dear {{ target.name }},\n\nPlease drop the charges.\n"
    "{% if sender.note %}\n{{ sender.note }}\n{% endif %}\n"
    "Yours,\n{{ sender.name }}\n"
)
CALLS_SUBJECT = "Drop the charges against the four"
CALL_SCRIPT = (
    "Hello, this is {{ sender.name }}. I am calling {{ target.name }} about the four "
    "activists. Please drop the charges.\n"
)
CALL_TARGETS = """\
  - id: court
    name: "Judge Example"
    role: "Head of the Court"
    phone: "+7 7172 000000"
    timezone: Asia/Almaty
    office_hours: "Mon-Fri 09:00-18:00"
    call_script: court-call.txt.j2
  - id: admin
    name: "The Administration"
    phone: "+7 7172 000001"
  - id: embassy-gb
    name: "Embassy in the UK"
    phone: "+44 20 0000 0000"
    country: GB
  - id: embassy-us
    name: "Embassy in the US"
    phone: "+1 202 000 0000"
    country: US
  - id: desk
    name: "Press desk"
    email: desk@example.org
    phone: "+7 7172 000002"
    template: appeal.txt.j2
"""


def official(number: int) -> str:
    return f"official-{number}@example.org"


def write_campaign(
    root: Path, yaml_text: str = BASIC, letters: Mapping[str, str] | None = None
) -> Path:
    """A campaign folder (targets.yaml + letters/) under ``root``, from text; returns the file."""
    root.mkdir(parents=True, exist_ok=True)
    folder = root / "letters"
    folder.mkdir(exist_ok=True)
    for name, text in (BASIC_LETTERS if letters is None else letters).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    path = root / "targets.yaml"
    path.write_text(textwrap.dedent(yaml_text), encoding="utf-8")
    return path


def make_campaign(
    root: Path,
    *,
    targets: int = 3,
    calls: bool = False,
    subject: str = "Drop the charges",
    campaign_cc: Sequence[str] = (CAMPAIGN_CC,),
    target_cc: Mapping[int, Sequence[str]] | None = None,
    campaign_id: str = CAMPAIGN,
) -> Path:
    """Letters t01..tNN to official-N@example.org; with ``calls``, the phone targets too:
    court (script, zone, hours), admin (no script), embassy-gb and embassy-us (zone from
    the country only), and desk (a letter target with a phone number).

    ``target_cc`` maps a target number to that target's own copy addresses.
    """
    lines = ["campaign:", f"  id: {campaign_id}", f'  subject: "{subject}"']
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
    text = "\n".join(lines) + "\n" + (CALL_TARGETS if calls else "")
    letters = {"appeal.txt.j2": APPEAL, "court-call.txt.j2": CALL_SCRIPT}
    return write_campaign(root, text, letters)


@pytest.fixture
def campaign(tmp_path: Path) -> Callable[..., Path]:
    """``campaign(**options)``: make_campaign in a fresh folder of this test's tmp_path."""
    made = iter(range(1, 1000))

    def build(**options: Any) -> Path:
        return make_campaign(tmp_path / f"campaign-{next(made)}", **options)

    return build


# -- settings a test injects ------------------------------------------------------------------


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries within a run start after 10 ms instead of a second (PROTEST_RETRY_DELAY)."""
    monkeypatch.setenv("PROTEST_RETRY_DELAY", "0.01")


def short_timeouts(monkeypatch: pytest.MonkeyPatch, *, timeout: float, data_timeout: float) -> None:
    """The product waits 30 s for a reply and 10 min after the data; tests cannot."""
    monkeypatch.setenv("PROTEST_SMTP_TIMEOUT", str(timeout))
    monkeypatch.setenv("PROTEST_SMTP_DATA_TIMEOUT", str(data_timeout))


# -- one CLI runner ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    out = property(lambda self: self.stdout)
    err = property(lambda self: self.stderr)


def cli(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    expect: int | None = None,
    clock: datetime | None = None,
    pacing: Pacing | None = None,
) -> Run:
    """``protest`` in this process (stdin is not a terminal); it must never print a traceback.

    ``clock`` is the moment the command sees as now, and ``pacing`` the device sign-in's
    sleep and clock (``oauthkit.virtual_pacing``): injected, not patched.
    """
    from protest_dispatch.cli import output
    from protest_dispatch.cli.clock import Injected

    # The consoles read COLUMNS once, at import; keep rows on one line for asserts.
    output.stdout.width = 200
    output.stderr.width = 200
    result = CliRunner().invoke(
        app,
        list(args),
        env=dict(env or {}),
        input=input,
        catch_exceptions=False,
        obj=Injected(now=None if clock is None else lambda: clock, pacing=pacing),
    )
    run = Run(result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in run.output, run.output
    if expect is not None:
        assert run.code == expect, f"exit {run.code}, wanted {expect}\n{run.output}"
    return run


def answers(*lines: str) -> str:
    return "".join(f"{line}\n" for line in lines)


def sender_env(log: Path, **extra: str) -> dict[str, str]:
    env = {"PROTEST_FROM": FROM, "PROTEST_LOG": str(log)}
    env.update(extra)
    return env


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


def send(
    campaign: Path,
    *args: str,
    env: Mapping[str, str],
    yes: bool = True,
    rate: str = "0",
    clock: datetime | None = None,
) -> Run:
    return cli(
        ["send", "-t", str(campaign), "--rate", rate, *(["--yes"] if yes else []), *args],
        env=env,
        clock=clock,
    )


# -- campaign checks -------------------------------------------------------------------------


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the n-th line containing ``needle``."""
    found = [n for n, line in enumerate(path.read_text("utf-8").splitlines(), 1) if needle in line]
    assert len(found) >= occurrence, f"{needle!r} is not in {path} {occurrence} time(s)"
    return found[occurrence - 1]


def problems_of(path: Path) -> list[Problem]:
    """Every problem load_campaign reports for the file (it must report some)."""
    with pytest.raises(CampaignError) as caught:
        load_campaign(path=path)
    assert caught.value.problems, "a CampaignError must carry its problems"
    return caught.value.problems


def only_problem(path: Path) -> Problem:
    problems = problems_of(path)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def composer(
    path: Path, *, sender: Sender = ANA, lang: str | None = None, only: Sequence[str] = ()
) -> Composer:
    return Composer(
        loaded=load_campaign(path=path), sender=sender, lang=lang, only=only, today=TODAY
    )


def letters_of(composer: Composer) -> list[Letter]:
    """Every selected target's letter, rendered (the send path takes them one at a time)."""
    return [composer.letter(selected) for selected in composer.audience.letters]


def render_problems(path: Path, **kwargs: object) -> list[Problem]:
    """Problems found when every letter of a valid campaign file is rendered."""
    with pytest.raises(CampaignError) as caught:
        composer(path, **kwargs).check_all()  # type: ignore[arg-type]
    return caught.value.problems


def parse(data: bytes, *, policy: Policy = email.policy.default) -> EmailMessage:
    return cast(EmailMessage, email.message_from_bytes(data, policy=policy))


# -- the send log and child processes ---------------------------------------------------------

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
    )


CHILD_DEADLINE = 120.0
"""How long a test waits for a child process to show a state or to end: a safety net for
a hung child, never a measure (on a starved machine Python alone can take many seconds
to start), so it is generous."""


@contextlib.contextmanager
def reaped(child: subprocess.Popen[Any]) -> Iterator[subprocess.Popen[Any]]:
    """``child``, killed and waited for if the test ends first: a failed test must not
    leave a run going that slows, and so fails, the tests after it."""
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()


def read_until(stream: IO[Any], needle: bytes) -> bytes:
    """What a child wrote to ``stream`` (its stdout or stderr pipe) up to ``needle``: the
    state a person would see, waited for instead of a fixed time. It is read past the
    buffers of ``stream``, so ``communicate()`` later returns the rest."""
    fd = stream.fileno()
    seen = b""
    deadline = time.monotonic() + CHILD_DEADLINE
    while needle not in seen:
        assert time.monotonic() < deadline, f"{needle!r} never came: {seen!r}"
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            chunk = os.read(fd, 4096)
            assert chunk, f"the output ended before {needle!r}: {seen!r}"
            seen += chunk
    return seen


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


# -- a keyring in memory -------------------------------------------------------------------


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
