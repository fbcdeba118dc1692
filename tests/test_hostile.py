"""Hostile input through the real CLI: refused with exit 2, located, no traceback, nothing sent.

The corpus lives in ``tests/hostile/``: ``campaigns/*.yaml`` are whole campaign
files and ``letters/*.j2`` letter templates, one attack each. Every file says
what it is in a comment on its first line, and lists with ``expect:`` comments
the words the error must contain (line numbers and field names included); a
letter may raise its memory allowance with a ``max-mb:`` comment. Each one is
run through ``protest validate``, ``protest send --dry-run`` and ``protest send
--yes`` against a real SMTP server on 127.0.0.1, which must never see a
connection.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import resource
import sqlite3
import time
import tracemalloc
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from kit import letters_of
from protest_dispatch.campaign import sandbox
from protest_dispatch.campaign.compose import Composer
from protest_dispatch.campaign.loading import load_campaign
from protest_dispatch.campaign.message import build_message, make_message_id, message_bytes
from protest_dispatch.campaign.model import Sender
from protest_dispatch.campaign.templates import RENDER_SECONDS
from protest_dispatch.cli.app import app
from protest_dispatch.cli.clock import Injected
from protest_dispatch.sendlog.store import SendLog
from smtp_server import Server, running_server

CORPUS = Path(__file__).parent / "hostile"
FROM = "Ana Example <ana@example.org>"
SENDER = "ana@example.org"
BENIGN_LETTER = "Dear {{ target.name }},\n\nPlease drop the charges.\n\n{{ sender.name }}\n"
DEFAULT_MAX_MB = 200
ENDLESS = "longer than"
"""The words of the refusal of a letter that renders for ever (the render time-out)."""
ENDLESS_BOUND = 0.5
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline


@dataclass(frozen=True)
class Case:
    path: Path
    expects: tuple[str, ...]
    max_mb: int

    @property
    def id(self) -> str:
        return self.path.name


def _cases(folder: str, pattern: str) -> list[Case]:
    cases = []
    for path in sorted((CORPUS / folder).glob(pattern)):
        text = path.read_bytes().decode("utf-8", "replace")
        expects = tuple(m.strip() for m in re.findall(r"expect: (.*?)(?: #}|\n)", text))
        limit = re.search(r"max-mb: (\d+)", text)
        cases.append(Case(path, expects, int(limit.group(1)) if limit else DEFAULT_MAX_MB))
    return cases


CAMPAIGNS = _cases("campaigns", "*.yaml")
LETTERS = _cases("letters", "*.j2")


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """One server for the whole module: no hostile input may ever open a connection to it."""
    with running_server() as running:
        yield running
        assert running.connections == 0
        assert running.messages == []


def _smtp(server: Server, log: Path) -> list[str]:
    return [
        "--smtp-host",
        server.host,
        "--smtp-port",
        str(server.port),
        "--smtp-security",
        "none",
        "--log",
        str(log),
        "--rate",
        "0",
    ]


def _cli(
    args: Sequence[str], *, env: dict[str, str] | None = None, render_seconds: float | None = None
) -> Result:
    """``protest``, in this process; ``render_seconds`` bounds each letter's rendering."""
    return CliRunner().invoke(app, list(args), env=env, obj=Injected(render_seconds=render_seconds))


def _flat(text: str) -> str:
    """Rich wraps long lines; compare words, not line breaks."""
    return " ".join(text.split())


def _assert_refused(
    result: Result, *, expects: Sequence[str], names: str | None, code: int = 2
) -> None:
    output = result.output
    assert result.exit_code == code, output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in output
    assert not _CONTROL.search(output), "terminal control codes from the input reached the output"
    flat = _flat(output)
    if names is not None:
        assert names in flat, output
    for expected in expects:
        assert _flat(expected) in flat, (expected, output)


def _letters_in_log(log: Path) -> int:
    if not log.exists():
        return 0
    with sqlite3.connect(log) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "letters" not in tables:
            return 0
        return int(conn.execute("SELECT count(*) FROM letters").fetchone()[0])


def _campaign_folder(root: Path, targets: bytes, *, letters: dict[str, str] | None = None) -> Path:
    (root / "letters").mkdir(parents=True)
    for name, text in {"letter.txt.j2": BENIGN_LETTER, **(letters or {})}.items():
        (root / "letters" / name).write_text(text, encoding="utf-8")
    path = root / "targets.yaml"
    path.write_bytes(targets)
    return path


def _one_target(template: str) -> bytes:
    return (
        'campaign:\n  id: hostile\n  subject: "Drop the charges"\n'
        'targets:\n  - id: court\n    name: "Alina Rakhimbekova"\n'
        f"    email: chair@court.example.org\n    template: {template}\n"
    ).encode()


def _refused_everywhere(
    path: Path,
    server: Server,
    log: Path,
    *,
    expects: Sequence[str],
    names: str,
    extra: Sequence[str] = (),
) -> None:
    """validate, send --dry-run and send --yes all refuse, and nothing reaches the server."""
    before = server.connections
    for command in (["validate"], ["send", "--dry-run"], ["send", "--yes", *_smtp(server, log)]):
        result = _cli([*command, "-t", str(path), "--from", FROM, *extra])
        _assert_refused(result, expects=expects, names=names)
    assert server.connections == before
    assert _letters_in_log(log) == 0


# -- the campaign file ---------------------------------------------------------------------


@pytest.mark.parametrize("case", CAMPAIGNS, ids=lambda c: c.id)
def test_a_hostile_campaign_file_is_refused_with_its_location(
    case: Case, tmp_path: Path, server: Server
) -> None:
    pwned = tmp_path / f"pwned-{uuid.uuid4().hex}"
    text = case.path.read_bytes().replace(b"@PWNED@", str(pwned).encode())
    path = _campaign_folder(tmp_path / "campaign", text)
    assert case.expects, "every corpus file says what its error must contain"
    _refused_everywhere(
        path, server, tmp_path / "log.sqlite3", expects=case.expects, names="targets.yaml"
    )
    assert not pwned.exists(), "a YAML tag was executed"


def test_a_python_tag_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / f"pwned-{uuid.uuid4()}"
    text = (CORPUS / "campaigns" / "python-object-apply.yaml").read_bytes()
    path = _campaign_folder(tmp_path / "c", text.replace(b"@PWNED@", str(marker).encode()))
    for command in (["validate"], ["send", "--dry-run"]):
        _assert_refused(
            _cli([*command, "-t", str(path)]), expects=["is not allowed"], names="targets.yaml"
        )
    assert not marker.exists()


def test_a_billion_laughs_file_is_refused_fast_and_small(tmp_path: Path) -> None:
    path = _campaign_folder(
        tmp_path / "c", (CORPUS / "campaigns" / "billion-laughs.yaml").read_bytes()
    )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    tracemalloc.start()
    try:
        started = time.monotonic()
        result = _cli(["validate", "-t", str(path)])
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    print(
        f"billion laughs refused in {elapsed:.3f} s, peak {peak / 2**20:.1f} MiB traced, "
        f"max RSS grew {rss_growth / 1024:.1f} MiB"
    )
    _assert_refused(result, expects=["billion laughs"], names="targets.yaml")
    assert elapsed < 5
    assert peak < 200 * 2**20
    assert rss_growth < 200 * 1024


# -- letters -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", LETTERS, ids=lambda c: c.id)
def test_a_hostile_letter_is_refused_in_bounded_time_and_memory(
    case: Case, tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = case.path.name
    path = _campaign_folder(
        tmp_path / "campaign",
        _one_target(name),
        letters={name: case.path.read_text(encoding="utf-8")},
    )
    limit_before = resource.getrlimit(resource.RLIMIT_AS)
    tracemalloc.start()
    try:
        started = time.monotonic()
        result = _cli(["validate", "-t", str(path), "--from", FROM])
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"{name}: refused in {elapsed:.2f} s, peak {peak / 2**20:.1f} MiB")
    _assert_refused(result, expects=case.expects, names=name)
    if ENDLESS in case.expects:  # at the product's own bound
        assert f"longer than {RENDER_SECONDS:g} s" in _flat(result.output)
    assert elapsed < 10
    assert peak < case.max_mb * 2**20
    assert resource.getrlimit(resource.RLIMIT_AS) == limit_before, "the memory cap was lifted"
    # The other commands render the same way. An endless loop was refused above at the
    # real bound (RENDER_SECONDS); here the bound is injected, so it is not waited out twice.
    log = tmp_path / "log.sqlite3"
    bound = ENDLESS_BOUND if ENDLESS in case.expects else None
    for command in (["send", "--dry-run"], ["send", "--yes", *_smtp(server, log)]):
        result = _cli([*command, "-t", str(path), "--from", FROM], render_seconds=bound)
        _assert_refused(result, expects=case.expects, names=name)
        if bound is not None:
            assert f"longer than {bound:g} s" in _flat(result.output)
    assert _letters_in_log(log) == 0


def test_a_letter_that_is_a_symlink_out_of_letters_is_refused(
    tmp_path: Path, server: Server
) -> None:
    path = _campaign_folder(tmp_path / "c", _one_target("evil.txt.j2"))
    (path.parent / "letters" / "evil.txt.j2").symlink_to("/etc/passwd")
    _refused_everywhere(
        path,
        server,
        tmp_path / "log.sqlite3",
        expects=["leads outside the letters/ folder"],
        names="evil.txt.j2",
    )


def test_an_include_of_a_symlink_out_of_letters_is_refused(tmp_path: Path, server: Server) -> None:
    path = _campaign_folder(
        tmp_path / "c",
        _one_target("ok.txt.j2"),
        letters={"ok.txt.j2": "Dear all,\n{% include 'notes.txt' %}\n"},
    )
    secret = tmp_path / "c" / "secret.txt"
    secret.write_text("SECRET-CONTENT\n")
    (path.parent / "letters" / "notes.txt").symlink_to(secret)
    _refused_everywhere(
        path,
        server,
        tmp_path / "log.sqlite3",
        expects=["'notes.txt' leads outside the letters/ folder"],
        names="ok.txt.j2",
    )
    preview = _cli(["send", "--dry-run", "-t", str(path)])
    assert "SECRET-CONTENT" not in preview.output


def test_a_letters_folder_that_links_elsewhere_is_refused(tmp_path: Path, server: Server) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "letter.txt.j2").write_text("{% include 'private.txt' %}\n")
    (elsewhere / "private.txt").write_text("SECRET-CONTENT\n")
    campaign = tmp_path / "c"
    campaign.mkdir()
    (campaign / "letters").symlink_to(elsewhere, target_is_directory=True)
    path = campaign / "targets.yaml"
    path.write_bytes(_one_target("letter.txt.j2"))
    _refused_everywhere(
        path,
        server,
        tmp_path / "log.sqlite3",
        expects=["the letters/ folder is a link"],
        names="letter.txt.j2",
    )


def test_a_huge_template_file_is_refused_before_it_is_read(tmp_path: Path, server: Server) -> None:
    path = _campaign_folder(tmp_path / "c", _one_target("big.txt.j2"))
    with (path.parent / "letters" / "big.txt.j2").open("wb") as handle:
        handle.truncate(sandbox.MAX_TEMPLATE_BYTES + 1)
    _refused_everywhere(
        path, server, tmp_path / "log.sqlite3", expects=["larger than"], names="big.txt.j2"
    )


# -- the sender --------------------------------------------------------------------------

HOSTILE_FROM = [
    "Ana\r\nBcc: evil@attacker.example <ana@example.org>",
    "Ana <ana@example.org>\r\nBcc: evil@attacker.example",
    "Ana\nExample <ana@example.org>",
    "=?utf-8?q?x=0D=0ABcc:_evil@attacker.example?= <ana@example.org>",
    "Ana <=?utf-8?q?x=0D=0A?=@example.org>",
    "Ana <ana@example.org>, Evil <evil@attacker.example>",
    "Ana <ana@example.org;evil@attacker.example>",
    "ana@example.org, evil@attacker.example",
    "Ana\u2028Bcc: evil@attacker.example <ana@example.org>",
    "Ana\x00 <ana@example.org>",
    "Ana \u202eelpmaxE <ana@example.org>",
    "Ana <an\u200ba@example.org>",
    "Ana\u2066 Example <ana@example.org>",
    "Ana <" + "a" * 65 + "@example.org>",
]


@pytest.mark.parametrize("sender", HOSTILE_FROM)
def test_a_hostile_sender_is_refused_before_anything_is_sent(
    sender: str, tmp_path: Path, server: Server
) -> None:
    path = _campaign_folder(tmp_path / "c", _one_target("letter.txt.j2"))
    log = tmp_path / "log.sqlite3"
    before = server.connections
    for command in (["validate"], ["send", "--dry-run"], ["send", "--yes", *_smtp(server, log)]):
        result = _cli([*command, "-t", str(path), "--from", sender])
        _assert_refused(result, expects=[], names=None)
        assert "sender" in result.output.lower()
        if "\x00" not in sender:  # an environment variable cannot hold a NUL
            by_env = _cli([*command, "-t", str(path)], env={"PROTEST_FROM": sender})
            _assert_refused(by_env, expects=[], names=None)
    assert server.connections == before
    assert _letters_in_log(log) == 0


# -- the envelope --------------------------------------------------------------------------

TRICKY = (
    "campaign:\n  id: tricky\n"
    '  subject: "Re: {{ target.role }}"\n'
    "  cc: [press@example.org, Clerk@Court.example.org]\n"
    "  reply_to: replies@example.org\n"
    "targets:\n"
    "  - id: court\n"
    "    name: 'Evil <evil@attacker.example>, Bcc: evil2@attacker.example; \"x\"'\n"
    "    role: 'To: evil3@attacker.example, Cc: <evil4@attacker.example>'\n"
    "    email: chair@court.example.org\n"
    "    cc: [clerk@court.example.org, CHAIR@court.example.org, deputy@court.example.org]\n"
    "    template: letter.txt.j2\n"
)
EXPECTED_RCPT = [
    "chair@court.example.org",
    "press@example.org",
    "Clerk@court.example.org",
    "deputy@court.example.org",
]


def test_the_envelope_is_the_models_to_and_copies_whatever_the_names_say(
    tmp_path: Path, smtp_server: Server
) -> None:
    """Addresses typed into display names and subjects are text, never recipients."""
    path = _campaign_folder(tmp_path / "c", TRICKY.encode())
    loaded = load_campaign(path=path)
    sender = Sender(name="Ana Example", email=SENDER)
    (letter,) = letters_of(Composer(loaded=loaded, sender=sender))
    assert list(letter.envelope_recipients) == EXPECTED_RCPT
    assert letter.envelope_recipients == (letter.to, *letter.cc)
    raw = message_bytes(
        build_message(letter=letter, message_id=make_message_id(domain=sender.domain))
    )
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert [a.addr_spec for a in parsed["To"].addresses] == ["chair@court.example.org"]
    assert [a.addr_spec for a in parsed["Cc"].addresses] == EXPECTED_RCPT[1:]
    assert parsed["Bcc"] is None
    assert parsed["To"].addresses[0].display_name == loaded.campaign.targets[0].name

    # and through the real send path, to a real server
    result = _cli(
        [
            "send",
            "--yes",
            "-t",
            str(path),
            "--from",
            FROM,
            *_smtp(smtp_server, tmp_path / "log.sqlite3"),
        ]
    )
    assert result.exit_code == 0, result.output
    (received,) = smtp_server.messages
    assert received.rcpt_tos == EXPECTED_RCPT
    assert received.mail_from == SENDER
    assert "attacker" not in " ".join(received.rcpt_tos)
    assert received.message["Bcc"] is None
    assert [a.addr_spec for a in received.message["Cc"].addresses] == EXPECTED_RCPT[1:]


# -- the send log --------------------------------------------------------------------------


def _valid_log(path: Path) -> None:
    with SendLog.open(path=path) as log:
        log.add_usage(sender=SENDER, recipients=1)


def _corrupt(path: Path) -> None:
    _valid_log(path)
    data = bytearray(path.read_bytes())
    data[100:4096] = os.urandom(3996)  # the schema page, after the 100-byte header
    path.write_bytes(bytes(data))


def _not_a_database(path: Path) -> None:
    path.write_text("campaign,target,status\nhostile,court,sent\n")


def _half_a_database(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + os.urandom(50))


@pytest.mark.parametrize(
    ("make", "expects"),
    [
        pytest.param(_corrupt, ["is damaged"], id="corrupt"),
        pytest.param(_not_a_database, ["is not a SQLite database"], id="not-a-database"),
        pytest.param(_half_a_database, ["is not a SQLite database"], id="truncated"),
    ],
)
def test_an_unreadable_send_log_stops_the_run_before_any_connection(
    make: object, expects: list[str], tmp_path: Path, server: Server
) -> None:
    log = tmp_path / "sendlog.sqlite3"
    assert callable(make)
    make(log)
    before_bytes = log.read_bytes()
    path = _campaign_folder(tmp_path / "c", _one_target("letter.txt.j2"))
    before = server.connections
    result = _cli(["send", "--yes", "-t", str(path), "--from", FROM, *_smtp(server, log)])
    _assert_refused(result, expects=expects, names=str(log))
    assert server.connections == before
    assert log.read_bytes() == before_bytes, "a log we cannot read is never rewritten"


def test_a_send_log_locked_by_another_program_stops_the_run(tmp_path: Path, server: Server) -> None:
    log = tmp_path / "sendlog.sqlite3"
    _valid_log(log)
    holder = sqlite3.connect(log, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        path = _campaign_folder(tmp_path / "c", _one_target("letter.txt.j2"))
        before = server.connections
        result = _cli(["send", "--yes", "-t", str(path), "--from", FROM, *_smtp(server, log)])
        # busy, not invalid: exit 75 tells cron to try again later
        _assert_refused(result, expects=["locked"], names=str(log), code=75)
        assert server.connections == before
    finally:
        holder.close()


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("parent-is-a-file", "it is not a folder"), ("path-is-a-folder", "is a folder, not a file")],
)
def test_a_send_log_that_cannot_be_written_stops_the_run(
    kind: str, expected: str, tmp_path: Path, server: Server
) -> None:
    # Tests may run as root, who can write anywhere: a parent that is a regular file
    # stops even root.
    blocker = tmp_path / "blocker"
    if kind == "parent-is-a-file":
        blocker.write_text("not a folder\n")
        log = blocker / "sendlog.sqlite3"
    else:
        blocker.mkdir()
        log = blocker
    path = _campaign_folder(tmp_path / "c", _one_target("letter.txt.j2"))
    before = server.connections
    result = _cli(["send", "--yes", "-t", str(path), "--from", FROM, *_smtp(server, log)])
    _assert_refused(result, expects=[expected], names=str(log))
    assert server.connections == before


# -- size ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_five_thousand_targets_validate_and_the_time_is_reported(tmp_path: Path) -> None:
    """The issue asks for well under 15 s; the ceiling here only catches a disaster."""
    count = 5000
    lines = [
        "campaign:",
        "  id: big",
        '  subject: "Drop the charges, {{ target.name }}"',
        "  cc: [press@example.org]",
        "targets:",
    ]
    for number in range(count):
        lines += [
            f"  - id: t{number}",
            f'    name: "Official {number}"',
            "    role: Judge",
            f"    email: official-{number}@example.org",
            f"    cc: [clerk-{number}@example.org]",
            "    template: letter.txt.j2",
        ]
    path = _campaign_folder(tmp_path / "c", ("\n".join(lines) + "\n").encode())

    started = time.monotonic()
    loaded = load_campaign(path=path)
    composer = Composer(loaded=loaded, sender=Sender(name="Ana Example", email=SENDER))
    assert len(composer.check_all()) == count
    core = time.monotonic() - started

    started = time.monotonic()
    result = _cli(["validate", "-t", str(path), "--from", FROM])
    cli = time.monotonic() - started
    print(
        f"5,000 targets: load + render every letter {core:.2f} s; "
        f"`protest validate` with its table {cli:.2f} s"
    )
    assert result.exit_code == 0, result.output[-2000:]
    assert f"{count} letter(s)" in result.output
    assert cli < 60


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("fifo", "is a named pipe (FIFO), not a letter file"), ("device", "is a device")],
)
def test_a_letter_that_is_a_fifo_or_device_is_refused_without_opening_it(
    kind: str, expected: str, tmp_path: Path, server: Server
) -> None:
    """Opening a FIFO blocks until a writer comes, and /dev/zero never ends."""
    path = _campaign_folder(tmp_path / "c", _one_target("special.txt.j2"))
    special = path.parent / "letters" / "special.txt.j2"
    if kind == "fifo":
        os.mkfifo(special)
    else:
        special.symlink_to("/dev/zero")
    _refused_everywhere(
        path, server, tmp_path / "log.sqlite3", expects=[expected], names="special.txt.j2"
    )
