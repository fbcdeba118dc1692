"""Misbehaving SMTP servers: every letter is delivered once, or accounted for.

Each test runs the real ``protest send --yes --rate 0`` (in process, through
Typer's runner) against aiosmtpd on 127.0.0.1 with scripted faults
(``smtp_server.py``), reruns it the way cron would, and then counts what the
server accepted: every target exactly once, never a copy without its letter,
and the send log agreeing with the server. Backoff and timeouts are shortened
through the settings a user has too (PROTEST_RETRY_DELAY, PROTEST_SMTP_TIMEOUT,
PROTEST_SMTP_DATA_TIMEOUT); nothing in the product is replaced.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from kit import short_timeouts
from protest_dispatch.cli.app import app
from smtp_server import Server, ServerFactory, _hang_up, free_port

FROM = "Ana Example <ana@example.org>"
PRESS = "press@example.org"


pytestmark = pytest.mark.usefixtures("fast_retries")


def _to(number: int) -> str:
    return f"official-{number}@example.org"


def _clerk(number: int) -> str:
    return f"clerk-{number}@example.org"


def _campaign(root: Path, *, targets: int) -> Path:
    """``targets`` letters, each To official-N with two copies: the press and its own clerk."""
    (root / "letters").mkdir(parents=True)
    (root / "letters" / "appeal.txt.j2").write_text(
        "Dear {{ target.name }},\n\nPlease drop the charges.\n\n{{ sender.name }}\n"
    )
    lines = [
        "campaign:",
        "  id: faults",
        '  subject: "Drop the charges"',
        f"  cc: [{PRESS}]",
        "targets:",
    ]
    for number in range(1, targets + 1):
        lines += [
            f"  - id: t{number:02d}",
            f'    name: "Official {number}"',
            f"    email: {_to(number)}",
            f"    cc: [{_clerk(number)}]",
            "    template: appeal.txt.j2",
        ]
    path = root / "targets.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _send(path: Path, *, port: int, log: Path, args: Sequence[str] = ()) -> Result:
    return CliRunner().invoke(
        app,
        [
            "send",
            "--yes",
            "--rate",
            "0",
            "-t",
            str(path),
            "--from",
            FROM,
            "--smtp-host",
            "127.0.0.1",
            "--smtp-port",
            str(port),
            "--smtp-security",
            "none",
            "--log",
            str(log),
            *args,
        ],
    )


def _rows(log: Path) -> dict[str, tuple[str, int | None]]:
    """target -> (status, smtp_code), straight from the SQLite file."""
    with sqlite3.connect(log) as conn:
        return {
            str(t): (str(s), c)
            for t, s, c in conn.execute("SELECT target, status, smtp_code FROM letters")
        }


def _letters_by_to(*servers: Server) -> Counter[str]:
    """How many accepted messages each letter's To got (the first envelope recipient)."""
    return Counter(m.rcpt_tos[0].casefold() for s in servers for m in s.messages)


def _assert_each_letter_once(servers: Sequence[Server], *, targets: int) -> None:
    """Every letter arrived once, with exactly its own copies, and nothing else arrived."""
    messages = [m for s in servers for m in s.messages]
    assert _letters_by_to(*servers) == Counter(_to(n) for n in range(1, targets + 1))
    for message in messages:
        number = int(message.rcpt_tos[0].split("-")[1].split("@")[0])
        assert message.rcpt_tos == [_to(number), PRESS, _clerk(number)]
        assert [a.addr_spec for a in message.message["To"].addresses] == [_to(number)]
    copies = Counter(a for m in messages for a in m.rcpt_tos)
    assert copies[PRESS] == targets, "the press got exactly one copy of each letter"


def _run_until_done(
    path: Path, server: Server, log: Path, *, most: int, args: Sequence[str] = ()
) -> list[int]:
    """Rerun like cron until a run exits 0; returns the exit codes, at most ``most`` runs."""
    codes: list[int] = []
    for _ in range(most):
        result = _send(path, port=server.port, log=log, args=args)
        assert "Traceback" not in result.output
        codes.append(result.exit_code)
        if result.exit_code == 0:
            return codes
        assert result.exit_code == 75, result.output  # deferred only, never failed
    pytest.fail(f"still not done after {most} runs: {codes}")


# -- transient refusals ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "attempts"),
    [
        pytest.param((451, "4.3.0 Try again later"), "3", id="451"),
        pytest.param((421, "4.7.0 Closing, try later"), "3", id="421-hangs-up"),
        pytest.param((451, "4.3.0 Try again later"), "1", id="451-one-attempt-per-run"),
        pytest.param((421, "4.7.0 Closing, try later"), "1", id="421-one-attempt-per-run"),
    ],
)
def test_random_temporary_refusals_of_mail_still_deliver_every_letter_once(
    reply: tuple[int, str], attempts: str, tmp_path: Path, smtp_server_factory: ServerFactory
) -> None:
    """30% of MAIL commands refused (seeded): retries and reruns get every letter through."""
    server = smtp_server_factory(mail_reply=reply, mail_fail_probability=0.3, seed=20111)
    targets = 12
    path = _campaign(tmp_path / "c", targets=targets)
    log = tmp_path / "log.sqlite3"
    codes = _run_until_done(path, server, log, most=10, args=["--attempts", attempts])
    refusals = sum(1 for c in server.commands if c.verb == "MAIL") - len(server.messages)
    print(
        f"{reply[0]} on 30% of MAIL, --attempts {attempts}: run exit codes {codes}, "
        f"{refusals} refused MAIL commands"
    )
    assert refusals > 0, "the fault was injected"
    if attempts == "1":
        assert codes[0] == 75, "with one try per run, the first run left letters deferred"
    _assert_each_letter_once([server], targets=targets)
    assert set(_rows(log).values()) == {("sent", 250)}
    # one more run sends nothing at all
    before = len(server.messages)
    assert _send(path, port=server.port, log=log).exit_code == 0
    assert len(server.messages) == before


def test_a_server_that_hangs_up_after_every_two_messages_gets_each_letter_once(
    tmp_path: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(hangup_after=2)
    targets = 7
    path = _campaign(tmp_path / "c", targets=targets)
    log = tmp_path / "log.sqlite3"
    _run_until_done(path, server, log, most=3)
    _assert_each_letter_once([server], targets=targets)
    assert server.connections >= 4, "it reconnected after each hang-up"
    per_connection = Counter(m.connection for m in server.messages)
    assert max(per_connection.values()) <= 2
    assert all(status == "sent" for status, _ in _rows(log).values())


def test_a_greylisted_to_sends_no_duplicate_copies(
    tmp_path: Path, smtp_server_factory: ServerFactory
) -> None:
    """451 on each To the first time: the letter is retried whole, never its copies alone."""
    targets = 4
    server = smtp_server_factory(greylist=1, greylist_only={_to(n) for n in range(1, targets + 1)})
    path = _campaign(tmp_path / "c", targets=targets)
    log = tmp_path / "log.sqlite3"
    _run_until_done(path, server, log, most=3)
    _assert_each_letter_once([server], targets=targets)
    for number in range(1, targets + 1):
        assert server.rcpt_attempts[_to(number)] == 2  # greylisted once, then accepted
        # the copies were only named in the transaction that went through
        assert server.rcpt_attempts[_clerk(number)] == 1
    assert server.rcpt_attempts[PRESS] == targets


def test_a_550_on_one_to_among_many_fails_that_letter_only(
    tmp_path: Path, smtp_server_factory: ServerFactory
) -> None:
    targets = 6
    server = smtp_server_factory(refuse={_to(3): (550, "5.1.1 No such user")})
    path = _campaign(tmp_path / "c", targets=targets)
    log = tmp_path / "log.sqlite3"
    result = _send(path, port=server.port, log=log)
    assert result.exit_code == 1, result.output
    assert _letters_by_to(server) == Counter(_to(n) for n in range(1, targets + 1) if n != 3)
    assert server.rcpt_attempts[_clerk(3)] == 0, "no copy of the refused letter was sent"
    rows = _rows(log)
    assert rows["t03"] == ("failed", 550)
    assert all(rows[f"t{n:02d}"] == ("sent", 250) for n in range(1, targets + 1) if n != 3)
    assert "550" in result.output
    # a rerun does not retry a failed letter, or resend the others
    again = _send(path, port=server.port, log=log)
    assert again.exit_code == 0, again.output
    assert len(server.messages) == targets - 1


def test_a_552_on_data_fails_the_letter_and_it_is_not_resent(
    tmp_path: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(data_reply=(552, "5.3.4 Message too big"))
    path = _campaign(tmp_path / "c", targets=2)
    log = tmp_path / "log.sqlite3"
    result = _send(path, port=server.port, log=log)
    assert result.exit_code == 1, result.output
    assert server.messages == []
    assert _rows(log) == {"t01": ("failed", 552), "t02": ("failed", 552)}
    datas = sum(1 for c in server.commands if c.verb == "DATA")
    assert datas == 2, "a permanent refusal is not retried"
    assert _send(path, port=server.port, log=log).exit_code == 0
    assert sum(1 for c in server.commands if c.verb == "DATA") == datas


# -- broken connections ------------------------------------------------------------------


def _drop_first(server: Server, hook: str, *, times: int) -> list[str]:
    """Close the connection without a word on the first ``times`` calls of a handler hook."""
    handler = server.handler
    original = getattr(handler, hook)
    dropped: list[str] = []

    async def drop(smtp: Any, session: Any, envelope: Any, *args: Any) -> str:
        if len(dropped) < times:
            dropped.append(str(envelope.rcpt_tos[:1] or args[:1]))
            if hook == "handle_DATA":
                server.unanswered.append(handler._received(smtp, session, envelope))
            return await _hang_up(smtp, None)
        result: str = await original(smtp, session, envelope, *args)
        return result

    setattr(handler, hook, drop)
    return dropped


def test_a_connection_dropped_before_the_data_is_retried_and_sent_once(
    tmp_path: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory()
    dropped = _drop_first(server, "handle_RCPT", times=2)
    targets = 3
    path = _campaign(tmp_path / "c", targets=targets)
    log = tmp_path / "log.sqlite3"
    _run_until_done(path, server, log, most=3)
    assert len(dropped) == 2
    _assert_each_letter_once([server], targets=targets)
    assert {status for status, _ in _rows(log).values()} == {"sent"}, "never uncertain"


def test_a_connection_dropped_after_the_data_leaves_that_letter_uncertain(
    tmp_path: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory()
    _drop_first(server, "handle_DATA", times=1)
    targets = 3
    path = _campaign(tmp_path / "c", targets=targets)
    log = tmp_path / "log.sqlite3"
    result = _send(path, port=server.port, log=log, args=["--concurrency", "1"])
    assert result.exit_code == 1, result.output
    rows = _rows(log)
    assert rows["t01"][0] == "uncertain"
    assert [rows["t02"][0], rows["t03"][0]] == ["sent", "sent"]
    assert len(server.unanswered) == 1
    assert _letters_by_to(server) == Counter([_to(2), _to(3)])
    # a rerun leaves the uncertain letter alone: the server may have it
    assert _send(path, port=server.port, log=log).exit_code == 0
    assert len(server.messages) == 2
    # only when asked is it sent again, once
    again = _send(path, port=server.port, log=log, args=["--retry-uncertain"])
    assert again.exit_code == 0, again.output
    _assert_each_letter_once([server], targets=targets)


def test_a_server_that_stops_answering_defers_the_rest_and_a_rerun_finishes(
    tmp_path: Path, smtp_server_factory: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After its first letter the server goes silent: replies time out, nothing is lost."""
    short_timeouts(monkeypatch, timeout=0.3, data_timeout=0.5)
    server = smtp_server_factory()
    handler = server.handler
    silent = asyncio.Event()
    original_mail, original_ehlo = handler.handle_MAIL, handler.handle_EHLO

    async def handle_MAIL(*args: Any) -> str:
        if handler.messages:
            silent.set()
        if silent.is_set():
            await asyncio.sleep(3600)
        result: str = await original_mail(*args)
        return result

    # aiosmtpd reads this hook's signature: it must name its five parameters
    async def handle_EHLO(
        smtp: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        if silent.is_set():
            await asyncio.sleep(3600)
        result: list[str] = await original_ehlo(smtp, session, envelope, hostname, responses)
        return result

    handler.handle_MAIL = handle_MAIL  # type: ignore[method-assign]  # instance-level fault
    handler.handle_EHLO = handle_EHLO  # type: ignore[method-assign]  # instance-level fault
    targets = 4
    path = _campaign(tmp_path / "c", targets=targets)
    log = tmp_path / "log.sqlite3"
    result = _send(path, port=server.port, log=log, args=["--concurrency", "1"])
    assert result.exit_code == 75, result.output
    assert len(server.messages) == 1
    assert server.unanswered == []
    rows = _rows(log)
    assert rows.pop("t01") == ("sent", 250)
    assert all(status == "deferred" for status, _ in rows.values()), rows
    assert "uncertain" not in result.output

    handler.handle_MAIL, handler.handle_EHLO = original_mail, original_ehlo  # type: ignore[method-assign]  # the server recovers
    silent.clear()
    assert _send(path, port=server.port, log=log).exit_code == 0
    _assert_each_letter_once([server], targets=targets)


def test_no_reply_after_the_data_is_uncertain_and_never_resent_by_a_rerun(
    tmp_path: Path, smtp_server_factory: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    short_timeouts(monkeypatch, timeout=2.0, data_timeout=0.3)
    server = smtp_server_factory(stall_data=1.5)
    path = _campaign(tmp_path / "c", targets=1)
    log = tmp_path / "log.sqlite3"
    result = _send(path, port=server.port, log=log)
    assert result.exit_code == 1, result.output
    assert _rows(log) == {"t01": ("uncertain", None)}
    server.update_faults(stall_data=None)
    assert _send(path, port=server.port, log=log).exit_code == 0
    assert server.messages == [], "an uncertain letter is not resent without --retry-uncertain"


def test_a_server_down_at_the_start_gets_everything_at_the_next_run(
    tmp_path: Path, smtp_server_factory: ServerFactory
) -> None:
    targets = 3
    path = _campaign(tmp_path / "c", targets=targets)
    log = tmp_path / "log.sqlite3"
    down = _send(path, port=free_port(), log=log)  # nobody listens there
    assert down.exit_code == 75, down.output
    assert "Traceback" not in down.output
    assert all(status != "sent" for status, _ in _rows(log).values()) if log.exists() else True
    server = smtp_server_factory()  # the server is back
    assert _send(path, port=server.port, log=log).exit_code == 0
    _assert_each_letter_once([server], targets=targets)
    assert {status for status, _ in _rows(log).values()} == {"sent"}
