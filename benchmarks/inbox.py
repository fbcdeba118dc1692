"""Benchmark ``protest inbox`` on a big mailbox in a private Dovecot on 127.0.0.1.

Usage (from the repository root, with the venv active; Dovecot installed, see tests/services)::

    python benchmarks/inbox.py                 # 20,000 messages, 200 about letters
    python benchmarks/inbox.py --messages 2000 # smaller mailbox (memory comparison)
    python benchmarks/inbox.py --write         # also append the table to benchmarks/RESULTS.md

A send log of 200 letters is written through the library (setup, not measured). The
mailbox gets ``--messages`` messages by IMAP MULTIAPPEND: 200 concern letters (100
replies, 50 RFC 3464 bounces, 50 automatic replies, taken from tests/corpus/mail), the
rest is ordinary mail that refers to no letter. Then, each as a whole process, as cron
would run it: the first ``protest inbox`` (reads everything), and a second one after
10 new messages arrived (5 about letters; three times, the median is shown). Wall time
and the child's own peak RSS (``ru_maxrss`` from ``os.wait4``) are reported; the goals
are under 5 s and under 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "src")]

from dovecot import Dovecot, running_dovecot  # noqa: E402  # the tests' own fixture code
from mailcorpus import render  # noqa: E402
from protest_dispatch.sendlog.store import SendLog  # noqa: E402

SENDER = "ana@example.org"
LETTERS = 200
APPEND_BATCH = 500
SECTION = "## protest inbox (issue 13)"
"""RESULTS.md's section for this benchmark; --write replaces it (it is the last one)."""
REPEAT_INCREMENTAL = 3
"""Incremental runs (each after 10 new messages); the median is reported."""
KINDS = ("reply-plain",) * 2 + ("dsn-postfix", "auto-rfc3834")


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_mb: float
    new: int


def make_log(path: Path) -> list[tuple[str, str]]:
    """200 sent letters; returns (Message-ID, To) of each."""
    letters = []
    with SendLog.open(path=path) as log:
        for number in range(LETTERS):
            to = f"official-{number}@example.org"
            message_id = f"<bench{number:04d}.{os.urandom(6).hex()}@example.org>"
            log.begin(
                campaign="bench",
                target=f"t{number:04d}",
                sender=SENDER,
                to=to,
                cc=["press@example.org"],
                message_id=message_id,
                recipients=2,
            )
            log.finish(campaign="bench", target=f"t{number:04d}", sender=SENDER, status="sent")
            letters.append((message_id, to))
    return letters


def about(letter: tuple[str, str], number: int) -> bytes:
    message_id, to = letter
    kind = KINDS[number % len(KINDS)]
    return render(kind, message_id=message_id, to=to, copy="press@example.org", sender=SENDER)


def unrelated(number: int) -> bytes:
    return render("unrelated", subject=f"Newsletter {number}", sender=SENDER)


def fill(server: Dovecot, messages: list[bytes]) -> None:
    with server.client() as imap:
        for start in range(0, len(messages), APPEND_BATCH):
            imap.multiappend("INBOX", messages[start : start + APPEND_BATCH])


def mailbox_of(letters: list[tuple[str, str]], messages: int) -> list[bytes]:
    """``messages`` messages, one about a letter every so often, the rest unrelated."""
    relevant = [about(letter, n) for n, letter in enumerate(letters)]
    others = [unrelated(n) for n in range(messages - len(relevant))]
    step = max(1, len(others) // len(relevant))
    mixed: list[bytes] = []
    for n, message in enumerate(others):
        mixed.append(message)
        if n % step == 0 and relevant:
            mixed.append(relevant.pop())
    return mixed + relevant


def fill_apart(server: Dovecot, letters: list[tuple[str, str]], messages: int) -> None:
    """Make and append the mailbox in another process.

    A child made by fork starts with its parent's pages, and Linux counts them in the
    child's ru_maxrss; so this process never holds the mailbox, and protest's peak RSS
    is protest's own.
    """
    import multiprocessing

    job = multiprocessing.get_context("spawn").Process(
        target=_fill_job, args=(server.host, server.imaps_port, str(server.ca_file),
                                server.user, server.password, letters, messages),
    )  # fmt: skip
    job.start()
    job.join()
    if job.exitcode != 0:
        raise SystemExit(f"filling the mailbox failed (exit {job.exitcode})")


def _fill_job(
    host: str,
    port: int,
    ca_file: str,
    user: str,
    password: str,
    letters: list[tuple[str, str]],
    messages: int,
) -> None:
    import ssl

    from imapclient import IMAPClient

    mixed = mailbox_of(letters, messages)
    context = ssl.create_default_context(cafile=ca_file)
    with IMAPClient(host, port, ssl=True, ssl_context=context) as imap:
        imap.login(user, password)
        for start in range(0, len(mixed), APPEND_BATCH):
            imap.multiappend("INBOX", mixed[start : start + APPEND_BATCH])


def run_inbox(env: dict[str, str]) -> Measured:
    """One whole ``protest inbox --json`` process: wall time and its own peak RSS."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "protest_dispatch", "inbox", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
        )
        assert child.stdout is not None
        out = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"protest inbox failed ({child.returncode}): {errors.read()!r}")
    return Measured(seconds, usage.ru_maxrss / 1024, len(json.loads(out)["new"]))


def measure(messages: int) -> dict[str, object]:
    with (
        tempfile.TemporaryDirectory(prefix="protest-inbox-bench-") as temp,
        running_dovecot() as server,
    ):
        log = Path(temp) / "sendlog.sqlite3"
        letters = make_log(log)
        started = time.perf_counter()
        fill_apart(server, letters, messages)
        filled = time.perf_counter() - started
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PROTEST_")},
            "PYTHONPATH": str(ROOT / "src"),
            "HOME": temp,
            "XDG_CONFIG_HOME": f"{temp}/config",
            "XDG_DATA_HOME": f"{temp}/data",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "PROTEST_FROM": f"Ana Example <{SENDER}>",
            "PROTEST_LOG": str(log),
            "PROTEST_IMAP_HOST": server.host,
            "PROTEST_IMAP_PORT": str(server.imaps_port),
            "PROTEST_IMAP_SECURITY": "tls",
            "PROTEST_IMAP_CA_FILE": str(server.ca_file),
            "PROTEST_IMAP_USERNAME": server.user,
            "PROTEST_IMAP_PASSWORD": server.password,
        }
        first = run_inbox(env)
        seconds = []
        for round_ in range(REPEAT_INCREMENTAL):
            arriving = [about(letters[5 * round_ + n], n + 1) for n in range(5)]
            fill(server, arriving + [unrelated(n) for n in range(5)])
            seconds.append(run_inbox(env))
        second = sorted(seconds, key=lambda m: m.seconds)[len(seconds) // 2]
    return {"messages": messages, "filled_s": filled, "first": first, "second": second}


def table(results: list[dict[str, object]]) -> str:
    lines = [
        "| mailbox | run | new findings | wall s | goal | peak RSS MB |",
        "|---:|---|---:|---:|---|---:|",
    ]
    for result in results:
        first, second = result["first"], result["second"]
        assert isinstance(first, Measured)
        assert isinstance(second, Measured)
        ok1 = "pass" if first.seconds < 5 else "FAIL"
        ok2 = "pass" if second.seconds < 1 else "FAIL"
        lines.append(
            f"| {result['messages']:,} | first | {first.new} | {first.seconds:.2f} | "
            f"< 5 s {ok1} | {first.peak_rss_mb:.1f} |"
        )
        lines.append(
            f"| {result['messages']:,} | after 10 new (median of {REPEAT_INCREMENTAL}) | "
            f"{second.new} | {second.seconds:.2f} | "
            f"< 1 s {ok2} | {second.peak_rss_mb:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, nargs="+", default=[20_000])
    parser.add_argument("--write", action="store_true", help="append to benchmarks/RESULTS.md")
    args = parser.parse_args()
    results = [measure(n) for n in args.messages]
    text = (
        f"\n{SECTION}\n\n"
        f"`python benchmarks/inbox.py --messages {' '.join(map(str, args.messages))}` on "
        f"this shared machine ({os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}); Dovecot on 127.0.0.1 over TLS; {LETTERS} letters in "
        "the send log, 200 messages about them, the rest unrelated. Whole processes.\n\n"
        + table(results)
        + "\n"
    )
    print(text)
    if args.write:
        path = HERE / "RESULTS.md"
        before = path.read_text(encoding="utf-8").split(SECTION)[0].rstrip("\n")
        path.write_text(before + "\n" + text, encoding="utf-8")


if __name__ == "__main__":
    main()
