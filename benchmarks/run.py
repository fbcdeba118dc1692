"""Run every protest benchmark and write benchmarks/RESULTS.md.

Usage (from the repository root, with the venv active)::

    python benchmarks/run.py            # full run: ~17 min on 2 cores at goal speed, longer if not
    python benchmarks/run.py --quick    # smoke run with small sizes, under a minute

Every measured command runs as a whole process, as a user would run it, so start-up is part
of the time. SMTP goes only to the sink (benchmarks/sink.py) on 127.0.0.1, which delays each
reply by a simulated round-trip time. Speed goals are reported as pass/fail but never change
the exit code; only a correctness problem (a letter lost or sent twice, a command failing)
makes this script exit 1.
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import importlib.metadata
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work"
EXAMPLE_CAMPAIGN = ROOT / "targets.yaml"
SENDER = "Bench Sender <bench@example.org>"
RECIPIENTS_PER_LETTER = 4  # one To and three Cc, see gen_campaign.py
CPU_PROBE_LOOPS = 300_000
PACKAGES = ("protest-dispatch", "aiosmtplib", "aiosmtpd", "typer", "rich", "pydantic", "jinja2")

sys.path.insert(0, str(HERE))
from gen_campaign import generate  # noqa: E402  # sibling script, not an installed package
from gen_paper import SENDER_ADDRESS  # noqa: E402
from gen_paper import generate as generate_paper  # noqa: E402

# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Plan:
    """Sizes of one run; the full plan is the one the goals are written for."""

    rtt_ms: float = 20.0
    send_n: int = 500
    concurrencies: tuple[int, ...] = (1, 2, 4, 8, 16)
    fast_n: int = 2000
    fast_k: int = 4
    baseline_n: int = 100
    bulk_n: int = 10_000
    startup_runs: int = 10
    repeat: int = 5
    markdown: bool = False
    print_goals: tuple[tuple[int, float], ...] = ((100, 3.0), (1000, 15.0))
    """Letters on paper: (letters, goal in seconds including start-up)."""


FULL = Plan()
QUICK = Plan(
    send_n=32,
    fast_n=200,
    baseline_n=10,
    bulk_n=500,
    startup_runs=3,
    repeat=1,
    print_goals=((10, 3.0), (50, 15.0)),
)


# --------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class Measured:
    """One finished child process: wall time, its own peak RSS, and how it ended."""

    seconds: float
    cpu_seconds: float
    """User plus system CPU time of the child: steadier than wall time on a busy host."""
    max_rss_mb: float
    returncode: int
    started_at: float
    output_tail: str

    def failure(self) -> str:
        """One line for the report: exit code and the last line the command printed."""
        lines = [line.strip() for line in self.output_tail.splitlines() if line.strip()]
        return f"exit {self.returncode}: {lines[-1][:300] if lines else '(no output)'}"


def run_measured(argv: Sequence[str], *, env: dict[str, str], timeout: float) -> Measured:
    """Run ``argv`` and measure it alone.

    ``os.wait4`` returns the rusage of this one child, unlike RUSAGE_CHILDREN which is a
    maximum over every child so far. Output goes to files so a chatty child cannot block on a
    full pipe.
    """
    with tempfile.TemporaryFile() as out:
        started_at = time.time()
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped by wait4
        out.seek(0)
        tail = out.read()[-2000:].decode("utf-8", "replace")
    return Measured(
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        max_rss_mb=usage.ru_maxrss / 1024.0,
        returncode=proc.returncode,
        started_at=started_at,
        output_tail=tail,
    )


@contextmanager
def sink(*, rtt_ms: float, scratch: Path) -> Iterator[SinkHandle]:
    """A fresh sink process per run, so its counters belong to that run alone."""
    stats_path = scratch / "sink-stats.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "sink.py"),
            "--rtt-ms",
            str(rtt_ms),
            "--stats",
            str(stats_path),
            "--lifetime",
            "1800",
        ],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the sink exited before it was listening; run sink.py by hand")
        yield SinkHandle(proc=proc, port=int(json.loads(line)["port"]), stats_path=stats_path)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@dataclass
class SinkHandle:
    """A running sink: where to send, and how to collect its final counters."""

    proc: subprocess.Popen[bytes]
    port: int
    stats_path: Path

    def stop(self) -> dict[str, Any]:
        """SIGTERM makes the sink write its final stats before exiting."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        stats: dict[str, Any] = json.loads(self.stats_path.read_text(encoding="utf-8"))
        return stats


# --------------------------------------------------------------------------- environment


@dataclass(frozen=True)
class Context:
    """What every case needs: the commands to run and a scratch area."""

    protest: list[str]
    plan: Plan
    scratch: Path
    protest_ready: bool
    pythonpath: Path | None = None

    def env(self, *, port: int | None = None, log: Path | None = None) -> dict[str, str]:
        """A clean environment: no user config, no keyring, no colour, loopback SMTP only.

        Without a port (dry runs) the port is left to its default: every setting is
        checked, and port 0 is not a port.
        """
        env = {k: v for k, v in os.environ.items() if not k.startswith("PROTEST_")}
        home = self.scratch / "home"
        env.update(
            {
                "XDG_CONFIG_HOME": str(home / "config"),
                "XDG_DATA_HOME": str(home / "data"),
                "XDG_STATE_HOME": str(home / "state"),
                "XDG_CACHE_HOME": str(home / "cache"),
                "NO_COLOR": "1",
                "TERM": "dumb",
                "COLUMNS": "200",
                "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
                "PROTEST_FROM": SENDER,
                "PROTEST_SMTP_HOST": "127.0.0.1",
                "PROTEST_SMTP_SECURITY": "none",
                "PROTEST_LOG": str(log or self.fresh_path("send-log", ".sqlite3")),
            }
        )
        if port is not None:
            env["PROTEST_SMTP_PORT"] = str(port)
        if self.pythonpath is not None:
            env["PYTHONPATH"] = str(self.pythonpath)
        return env

    def fresh_path(self, stem: str, suffix: str = "") -> Path:
        """A path no earlier run used, so every run starts with an empty send log."""
        return Path(tempfile.mkdtemp(prefix=f"{stem}-", dir=self.scratch)) / f"{stem}{suffix}"


def snapshot_source(scratch: Path) -> tuple[Path, str]:
    """Copy src/ and byte-compile the copy; return it and a digest of the sources.

    Others edit the tree while a run takes minutes, so every case must measure the same code.
    The copy goes first on PYTHONPATH, ahead of the editable install. Compiling matters too:
    with PYTHONDONTWRITEBYTECODE set (as here) the tree has no .pyc files and every run would
    recompile protest, which an installed copy never does.
    """
    dest = scratch / "src"
    shutil.copytree(
        ROOT / "src", dest, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    )
    digest = hashlib.sha256()
    for path in sorted(dest.rglob("*.py")):
        digest.update(path.relative_to(dest).as_posix().encode() + b"\0" + path.read_bytes())
    compileall.compile_dir(dest, quiet=1)
    return dest, digest.hexdigest()[:12]


def find_protest(override: str | None) -> list[str]:
    """The protest console script of this venv, unless told otherwise."""
    if override:
        return [override]
    sibling = Path(sys.executable).parent / "protest"
    if sibling.exists():
        return [str(sibling)]
    found = shutil.which("protest")
    return [found] if found else []


def protest_send_ready(protest: list[str], env: dict[str, str]) -> bool:
    """The send command is usable once its help lists --concurrency and --rate."""
    if not protest:
        return False
    try:
        done = subprocess.run(
            [*protest, "send", "--help"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and "--concurrency" in done.stdout and "--rate" in done.stdout


# --------------------------------------------------------------------------- results


@dataclass
class Row:
    """One reported number: its samples, and its goal if it has one."""

    case: str
    metric: str
    values: list[float]
    fmt: str = "{:.1f}"
    goal: str = ""
    passed: bool | None = None

    def cell(self) -> str:
        """Median with min-max, the range showing how noisy the repeats were."""
        if not self.values:
            return "n/a"
        med = self.fmt.format(statistics.median(self.values))
        if len(self.values) == 1:
            return med
        return f"{med} ({self.fmt.format(min(self.values))}..{self.fmt.format(max(self.values))})"

    @property
    def median(self) -> float:
        """Median, or NaN when the case was skipped."""
        return statistics.median(self.values) if self.values else float("nan")


@dataclass
class Report:
    """Everything measured, plus the correctness problems that make the run fail."""

    rows: list[Row] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cpu_probes_ms: list[float] = field(default_factory=list)
    load_at_start: float = field(default_factory=lambda: os.getloadavg()[0])
    cpu_at_start: tuple[float, float] = field(default_factory=lambda: cpu_seconds())

    def add(self, row: Row) -> Row:
        """Keep the row and show it at once, so a long run shows progress."""
        self.rows.append(row)
        print(f"  {row.case:<40} {row.metric:<28} {row.cell()}", flush=True)
        return row

    def problem(self, text: str) -> None:
        """Keep a correctness problem and show it at once."""
        self.problems.append(text)
        print(f"  PROBLEM: {text}", flush=True)

    def find(self, case: str, metric: str) -> Row | None:
        """Look up an earlier row, for goals that combine two measurements."""
        return next((r for r in self.rows if r.case == case and r.metric == metric), None)


def check_delivery(stats: dict[str, Any], *, expected: int, label: str) -> list[str]:
    """Every letter exactly once, to all its recipients: anything else is a bug, not noise."""
    problems = []
    if stats["messages"] != expected:
        problems.append(f"{label}: sink got {stats['messages']} messages, expected {expected}")
    if stats["recipients"] != expected * RECIPIENTS_PER_LETTER:
        problems.append(
            f"{label}: sink got {stats['recipients']} recipients, expected "
            f"{expected * RECIPIENTS_PER_LETTER}"
        )
    if stats["duplicate_message_ids"] or stats["duplicate_to"]:
        problems.append(
            f"{label}: duplicates: {stats['duplicate_message_ids']} Message-IDs, "
            f"{stats['duplicate_to']} To addresses, e.g. {stats['duplicate_examples']}"
        )
    if stats["missing_message_id"]:
        problems.append(f"{label}: {stats['missing_message_id']} messages without Message-ID")
    return problems


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class SendRun:
    """One whole-process send against a fresh sink."""

    measured: Measured
    stats: dict[str, Any]
    letters: int

    @property
    def letters_per_s(self) -> float:
        """Whole-process rate, start-up included, as a user experiences it."""
        return self.letters / self.measured.seconds

    @property
    def round_trips_per_letter(self) -> float:
        """Reply round trips per message, connection set-up and QUIT amortised."""
        return float(self.stats["round_trips"]) / max(int(self.stats["messages"]), 1)

    @property
    def in_sink_letters_per_s(self) -> float:
        """Rate from first connection to last message: the SMTP part alone."""
        first, last = self.stats["first_connection_at"], self.stats["last_message_at"]
        if first is None or last is None or last <= first:
            return float("nan")
        return float(self.stats["messages"]) / (float(last) - float(first))

    @property
    def startup_s(self) -> float:
        """Time from process start to the first SMTP connection."""
        first = self.stats["first_connection_at"]
        return float("nan") if first is None else first - self.measured.started_at


def send_runs(
    ctx: Context,
    report: Report,
    *,
    argv_for: Callable[[int], list[str]],
    letters: int,
    rtt_ms: float,
    label: str,
) -> list[SendRun]:
    """``repeat`` runs; a failed run is reported as a problem and left out of the numbers."""
    runs = [
        send_once(ctx, report, argv_for=argv_for, letters=letters, rtt_ms=rtt_ms, label=label)
        for _ in range(ctx.plan.repeat)
    ]
    return [r for r in runs if r is not None]


def send_once(
    ctx: Context,
    report: Report,
    *,
    argv_for: Callable[[int], list[str]],
    letters: int,
    rtt_ms: float,
    label: str,
) -> SendRun | None:
    """Start a sink, run one sender process against it, stop the sink, check delivery."""
    report.cpu_probes_ms.append(cpu_probe_ms())
    timeout = 120 + letters * 12 * max(rtt_ms, 1.0) / 1000.0
    with sink(rtt_ms=rtt_ms, scratch=Path(tempfile.mkdtemp(dir=ctx.scratch))) as handle:
        log = ctx.fresh_path("send-log", ".sqlite3")
        measured = run_measured(
            argv_for(handle.port), env=ctx.env(port=handle.port, log=log), timeout=timeout
        )
        stats = handle.stop()
    problems = check_delivery(stats, expected=letters, label=label)
    if measured.returncode != 0:
        problems.insert(0, f"{label}: {measured.failure()}")
        print(measured.output_tail, file=sys.stderr)
    for problem in problems:
        report.problem(problem)
    return None if problems else SendRun(measured=measured, stats=stats, letters=letters)


def protest_send_argv(ctx: Context, targets: Path, k: int) -> Callable[[int], list[str]]:
    """The send command under test; the port reaches it through PROTEST_SMTP_PORT."""
    return lambda _port: [
        *ctx.protest,
        "send",
        "-t",
        str(targets),
        "--yes",
        "--rate",
        "0",
        "--concurrency",
        str(k),
        "-q",
    ]


def baseline_argv(targets: Path) -> Callable[[int], list[str]]:
    """The naive smtplib sender, same campaign."""
    return lambda port: [
        sys.executable,
        str(HERE / "baseline.py"),
        "-t",
        str(targets),
        "--port",
        str(port),
    ]


def reference_argv(targets: Path, k: int) -> Callable[[int], list[str]]:
    """The minimal aiosmtplib sender, same campaign."""
    return lambda port: [
        sys.executable,
        str(HERE / "reference_client.py"),
        "-t",
        str(targets),
        "--port",
        str(port),
        "-k",
        str(k),
    ]


def campaign(ctx: Context, size: int) -> Path:
    """A generated campaign of ``size`` targets in the git-ignored work folder."""
    kind = "md" if ctx.plan.markdown else "txt"
    return generate(out=WORK / f"campaign-{kind}-{size}", count=size, markdown=ctx.plan.markdown)


def ceiling(k: int, run: SendRun, rtt_ms: float) -> float:
    """Best possible letters/s: K connections, each waiting one RTT per round trip."""
    return k / (run.round_trips_per_letter * rtt_ms / 1000.0)


def case_concurrency(ctx: Context, report: Report) -> None:
    """RTT 20 ms, K = 1..16: how close protest gets to the round-trip ceiling."""
    plan = ctx.plan
    targets = campaign(ctx, plan.send_n)
    label_for = {
        k: f"send RTT {plan.rtt_ms:g} ms N={plan.send_n} K={k}" for k in plan.concurrencies
    }
    done: dict[int, list[SendRun]] = {k: [] for k in plan.concurrencies}
    # Round-robin over K rather than K after K: a slow spell of this shared host then costs
    # every K one run instead of one K all its runs.
    for _ in range(plan.repeat):
        for k in plan.concurrencies:
            run = send_once(
                ctx,
                report,
                argv_for=protest_send_argv(ctx, targets, k),
                letters=plan.send_n,
                rtt_ms=plan.rtt_ms,
                label=label_for[k],
            )
            if run is not None:
                done[k].append(run)
    for k, runs in done.items():
        label = label_for[k]
        report.add(Row(label, "letters/s", [r.letters_per_s for r in runs]))
        report.add(
            Row(label, "round trips/letter", [r.round_trips_per_letter for r in runs], fmt="{:.2f}")
        )
        report.add(Row(label, "ceiling letters/s", [ceiling(k, r, plan.rtt_ms) for r in runs]))
        share = report.add(
            Row(
                label,
                "share of ceiling %",
                [100 * r.letters_per_s / ceiling(k, r, plan.rtt_ms) for r in runs],
            )
        )
        report.add(
            Row(label, "connections", [float(r.stats["connections"]) for r in runs], fmt="{:.0f}")
        )
        add_sink_rows(report, label, runs)
        goal = {8: 90.0, 16: 80.0}.get(k)
        if goal is not None:
            share.goal, share.passed = f"≥ {goal:g}%", share.median >= goal


def add_sink_rows(report: Report, label: str, runs: list[SendRun]) -> None:
    """Where the time went: SMTP phase rate, start-up before it, and the delay really given."""
    report.add(Row(label, "in-sink letters/s", [r.in_sink_letters_per_s for r in runs]))
    report.add(
        Row(label, "start-up to 1st connection s", [r.startup_s for r in runs], fmt="{:.2f}")
    )
    report.add(
        Row(
            label,
            "sink mean reply delay ms",
            [float(r.stats["mean_reply_delay_ms"]) for r in runs],
            fmt="{:.2f}",
        )
    )


def case_reference(ctx: Context, report: Report) -> None:
    """A minimal aiosmtplib sender at K=8: the share of the ceiling Python itself allows."""
    plan = ctx.plan
    targets = campaign(ctx, plan.send_n)
    k = 8
    label = f"reference aiosmtplib RTT {plan.rtt_ms:g} ms N={plan.send_n} K={k}"
    runs = send_runs(
        ctx,
        report,
        argv_for=reference_argv(targets, k),
        letters=plan.send_n,
        rtt_ms=plan.rtt_ms,
        label=label,
    )
    report.add(Row(label, "letters/s", [r.letters_per_s for r in runs]))
    report.add(
        Row(
            label,
            "share of ceiling %",
            [100 * r.letters_per_s / ceiling(k, r, plan.rtt_ms) for r in runs],
        )
    )
    add_sink_rows(report, label, runs)


def case_fast(ctx: Context, report: Report) -> None:
    """RTT 0: the CPU cost per letter, with the send log on."""
    plan = ctx.plan
    targets = campaign(ctx, plan.fast_n)
    label = f"send RTT 0 ms N={plan.fast_n} K={plan.fast_k}"
    runs = send_runs(
        ctx,
        report,
        argv_for=protest_send_argv(ctx, targets, plan.fast_k),
        letters=plan.fast_n,
        rtt_ms=0.0,
        label=label,
    )
    row = report.add(Row(label, "letters/s", [r.letters_per_s for r in runs]))
    row.goal, row.passed = "≥ 400", row.median >= 400
    add_sink_rows(report, label, runs)


def case_baseline(ctx: Context, report: Report) -> None:
    """The naive tool on the same work, and protest's speed-up over it."""
    plan = ctx.plan
    targets = campaign(ctx, plan.baseline_n)
    label = f"naive baseline RTT {plan.rtt_ms:g} ms N={plan.baseline_n}"
    runs = send_runs(
        ctx,
        report,
        argv_for=baseline_argv(targets),
        letters=plan.baseline_n,
        rtt_ms=plan.rtt_ms,
        label=label,
    )
    base = report.add(Row(label, "letters/s", [r.letters_per_s for r in runs], fmt="{:.2f}"))
    report.add(
        Row(label, "round trips/letter", [r.round_trips_per_letter for r in runs], fmt="{:.2f}")
    )
    k8 = report.find(f"send RTT {plan.rtt_ms:g} ms N={plan.send_n} K=8", "letters/s")
    if k8 is not None and k8.values and base.values:
        ratio = report.add(
            Row("protest K=8 / naive baseline", "speed-up x", [v / base.median for v in k8.values])
        )
        ratio.goal, ratio.passed = "≥ 10x", ratio.median >= 10


def case_bulk(ctx: Context, report: Report) -> None:
    """10,000 targets: dry-run rendering and validation must stay fast and small."""
    plan = ctx.plan
    targets = campaign(ctx, plan.bulk_n)
    dry: list[Measured] = []
    for _ in range(plan.repeat):
        out = ctx.fresh_path("dry-run-out")
        dry.append(
            checked(
                report,
                f"dry-run {plan.bulk_n}",
                run_measured(
                    [*ctx.protest, "send", "--dry-run", "-t", str(targets), "--out", str(out)],
                    env=ctx.env(),
                    timeout=600,
                ),
            )
        )
        produced = len(list(out.glob("*.eml")))
        if produced != plan.bulk_n:
            report.problem(f"dry-run {plan.bulk_n}: wrote {produced} .eml files")
    add_time_and_rss(report, f"send --dry-run --out, {plan.bulk_n} targets", dry)
    val = [
        checked(
            report,
            f"validate {plan.bulk_n}",
            run_measured(
                [*ctx.protest, "validate", "-t", str(targets)], env=ctx.env(), timeout=600
            ),
        )
        for _ in range(plan.repeat)
    ]
    add_time_and_rss(report, f"validate, {plan.bulk_n} targets", val, goals=False)


def case_print(ctx: Context, report: Report) -> None:
    """protest print: N letters on paper as N PDF files, start-up included."""
    env = {**ctx.env(), "PROTEST_POSTAL_ADDRESS": SENDER_ADDRESS}
    for size, goal in ctx.plan.print_goals:
        targets = generate_paper(out=ctx.fresh_path(f"paper-{size}"), count=size)
        runs: list[Measured] = []
        for _ in range(ctx.plan.repeat):
            out = ctx.fresh_path("print-out")
            argv = [*ctx.protest, "print", "-t", str(targets), "--out", str(out)]
            runs.append(checked(report, f"print {size}", run_measured(argv, env=env, timeout=900)))
            produced = len(list(out.glob("*.pdf")))
            if produced != size:
                report.problem(f"print {size}: wrote {produced} PDF files")
        label = f"print, {size} letters on paper"
        ok = [m for m in runs if m.returncode == 0]
        secs = report.add(Row(label, "seconds", [m.seconds for m in ok], fmt="{:.2f}"))
        secs.goal, secs.passed = f"< {goal:g} s", secs.median < goal
        report.add(Row(label, "CPU seconds", [m.cpu_seconds for m in ok], fmt="{:.2f}"))
        report.add(Row(label, "peak RSS MB", [m.max_rss_mb for m in ok], fmt="{:.0f}"))


def checked(report: Report, label: str, measured: Measured) -> Measured:
    """Record a failing command as a problem; its time would be meaningless."""
    if measured.returncode != 0:
        report.problem(f"{label}: {measured.failure()}")
        print(measured.output_tail, file=sys.stderr)
    return measured


def add_time_and_rss(
    report: Report, label: str, runs: list[Measured], *, goals: bool = True
) -> None:
    """Seconds and peak RSS rows; the 10k dry-run goals are < 10 s and < 200 MB."""
    runs = [m for m in runs if m.returncode == 0]  # a failed run's time means nothing
    secs = report.add(Row(label, "seconds", [m.seconds for m in runs], fmt="{:.2f}"))
    rss = report.add(Row(label, "peak RSS MB", [m.max_rss_mb for m in runs], fmt="{:.0f}"))
    if goals:
        secs.goal, secs.passed = "< 10 s", secs.median < 10
        rss.goal, rss.passed = "< 200 MB", rss.median < 200


def case_startup(ctx: Context, report: Report) -> None:
    """Start-up latency people feel on every command: --help and a small dry run."""
    runs = ctx.plan.startup_runs
    bare_argv = [sys.executable, str(HERE / "bare_typer.py"), "--help"]
    if not ctx.protest:
        report.add(
            Row(
                "bare Typer app --help",
                "seconds",
                time_command(ctx, report, bare_argv, runs),
                fmt="{:.3f}",
            )
        )
        return
    # Paired and interleaved, bare then protest, so a slow spell of the host lands on both
    # sides of a difference instead of on one of them.
    pairs = time_commands(ctx, report, [bare_argv, [*ctx.protest, "--help"]], runs)
    report.add(Row("bare Typer app --help", "seconds", [b for b, _ in pairs], fmt="{:.3f}"))
    report.add(Row("protest --help", "seconds", [p for _, p in pairs], fmt="{:.3f}"))
    diff = report.add(
        Row(
            "protest --help minus bare Typer",
            "ms",
            [1000 * (p - b) for b, p in pairs],
            fmt="{:.0f}",
        )
    )
    diff.goal, diff.passed = "≤ 30 ms", diff.median <= 30
    if EXAMPLE_CAMPAIGN.exists() and ctx.protest_ready:
        dry = report.add(
            Row(
                "protest send --dry-run (example campaign)",
                "seconds",
                time_command(
                    ctx,
                    report,
                    [*ctx.protest, "send", "--dry-run", "-t", str(EXAMPLE_CAMPAIGN)],
                    runs,
                ),
                fmt="{:.3f}",
            )
        )
        dry.goal, dry.passed = "< 0.6 s", dry.median < 0.6
    # Commands that only read the send log: start-up is nearly all of their time. CPU
    # seconds too, since on a shared host wall time mostly measures the neighbours.
    for label, argv in (
        ("protest --help", [*ctx.protest, "--help"]),
        ("protest log (empty send log)", [*ctx.protest, "log"]),
        ("protest status (in the example campaign's folder)", [*ctx.protest, "status"]),
    ):
        if "--help" not in argv:
            report.add(Row(label, "seconds", time_command(ctx, report, argv, runs), fmt="{:.3f}"))
        cpu = time_command(ctx, report, argv, runs, cpu=True)
        report.add(Row(label, "CPU seconds", cpu, fmt="{:.3f}"))


def time_commands(
    ctx: Context,
    report: Report,
    argvs: Sequence[list[str]],
    runs: int,
    *,
    cpu: bool = False,
) -> list[tuple[float, ...]]:
    """Wall seconds of ``runs`` rounds, each running every command once, back to back.

    One untimed warm-up of each command first fills the OS page cache. A round in which
    a command failed is left out (and reported).
    """
    for argv in argvs:
        run_measured(argv, env=ctx.env(), timeout=60)
    rounds = []
    for _ in range(runs):
        measured = [
            checked(report, " ".join(argv[-3:]), run_measured(argv, env=ctx.env(), timeout=60))
            for argv in argvs
        ]
        if all(m.returncode == 0 for m in measured):
            rounds.append(tuple(m.cpu_seconds if cpu else m.seconds for m in measured))
    return rounds


def time_command(
    ctx: Context, report: Report, argv: list[str], runs: int, *, cpu: bool = False
) -> list[float]:
    """Wall (or CPU) seconds of ``runs`` runs of one command."""
    return [seconds for (seconds,) in time_commands(ctx, report, [argv], runs, cpu=cpu)]


# --------------------------------------------------------------------------- output


def machine_lines() -> list[str]:
    """Where the numbers came from; a 2-core VM and a laptop differ a lot."""
    cpu = "unknown"
    mem = "unknown"
    with _suppress_os_error():
        cpu = next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            cpu,
        )
        kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    versions = ", ".join(f"{name} {_version(name)}" for name in PACKAGES)
    return [
        f"- Machine: {os.cpu_count()} CPUs, {cpu}, {mem} RAM, {platform.platform()}",
        f"- Python: {platform.python_version()} ({sys.executable})",
        f"- Packages: {versions}",
    ]


def cpu_seconds() -> tuple[float, float]:
    """(CPU busy seconds on the whole machine, CPU seconds of this run and its children)."""
    own = sum(
        getattr(resource.getrusage(who), f)
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        for f in ("ru_utime", "ru_stime")
    )
    busy = float("nan")
    with _suppress_os_error():
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        busy = (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")
    return busy, own


def cpu_probe_ms() -> float:
    """Time a fixed piece of pure-Python work: how fast this (shared) CPU is right now.

    Sampled before every send run; its spread shows how much of the spread of the other
    numbers is the machine, not the program (start-up is CPU-bound, sending is not).
    """
    started = time.perf_counter()
    total = 0
    for i in range(CPU_PROBE_LOOPS):
        total += i * i
    return 1000 * (time.perf_counter() - started)


def other_cpu_share(report: Report, elapsed: float) -> float:
    """Share of one core that other sessions' processes took: noise in every number here."""
    busy0, own0 = report.cpu_at_start
    busy1, own1 = cpu_seconds()
    return max(0.0, (busy1 - busy0) - (own1 - own0)) / max(elapsed, 1e-9)


@contextmanager
def _suppress_os_error() -> Iterator[None]:
    """/proc is Linux-only; elsewhere the machine line just says unknown."""
    with suppress(OSError, StopIteration, ValueError):
        yield


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def markdown(report: Report, *, plan: Plan, quick: bool, elapsed: float) -> str:
    """RESULTS.md: context, the table, goals, and any correctness problems."""
    flags = (" --quick" if quick else "") + (" --markdown" if plan.markdown else "")
    letters = "Markdown (.md.j2: text and HTML parts)" if plan.markdown else "plain text (.txt.j2)"
    lines = [
        "# protest benchmark results",
        "",
        f"Generated by `python benchmarks/run.py{flags}` on "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')} in {elapsed:.0f} s; "
        f"{plan.repeat} repeat(s), median (min..max); letters are {letters}.",
        "",
        *machine_lines(),
        "",
    ]
    lines.append(
        f"- Other load: 1-min load average {report.load_at_start:.2f} at start; "
        f"{other_cpu_share(report, elapsed):.0%} of one core used by processes outside "
        "this run while it ran (above ~10%, numbers are pessimistic)"
    )
    if report.cpu_probes_ms:
        probes = report.cpu_probes_ms
        lines.append(
            f"- CPU speed: a fixed {CPU_PROBE_LOOPS:,}-step loop took "
            f"{statistics.median(probes):.1f} ms ({min(probes):.1f}..{max(probes):.1f}) "
            f"before the {len(probes)} send runs; this shared host's CPU speed swings, "
            "and the start-up rows swing with it"
        )
    lines += [f"- Note: {note}" for note in report.notes]
    lines += [
        "",
        "| Case | Metric | Median (min..max) | Goal | Result |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in report.rows:
        verdict = "" if row.passed is None else ("pass" if row.passed else "FAIL")
        lines.append(f"| {row.case} | {row.metric} | {row.cell()} | {row.goal} | {verdict} |")
    lines += ["", "## Correctness", ""]
    lines += [f"- PROBLEM: {p}" for p in report.problems] or [
        "Every letter reached the sink exactly once, to all four recipients."
    ]
    return "\n".join(lines) + "\n"


def print_goals(report: Report) -> None:
    """Pass/fail per goal, on the terminal; never affects the exit code."""
    print("\nGoals:")
    for row in report.rows:
        if row.passed is not None:
            verdict = "PASS" if row.passed else "FAIL"
            print(f"  [{verdict}] {row.case}: {row.metric} = {row.cell()} (goal {row.goal})")


# --------------------------------------------------------------------------- main

CASES: dict[str, Callable[[Context, Report], None]] = {
    "send": case_concurrency,
    "reference": case_reference,
    "fast": case_fast,
    "baseline": case_baseline,
    "bulk": case_bulk,
    "startup": case_startup,
    "print": case_print,
}
NEEDS_PROTEST_SEND = {"send", "fast", "bulk"}


def smoke_test(ctx: Context) -> bool:
    """Three letters first, so a broken tree fails in seconds, not after ten minutes."""
    trial = Report()
    targets = generate(out=WORK / "campaign-smoke", count=3, markdown=ctx.plan.markdown)
    run = send_once(
        ctx,
        trial,
        argv_for=protest_send_argv(ctx, targets, 2),
        letters=3,
        rtt_ms=0.0,
        label="smoke run",
    )
    return run is not None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Options; the defaults are the documented full run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--repeat", type=int, help="runs per case (default 5, quick 1)")
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="Markdown letters (.md.j2, sent with an HTML part) instead of text",
    )
    parser.add_argument(
        "--cases", nargs="+", choices=list(CASES), default=list(CASES), help="run only these cases"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        metavar="K",
        help="K values for the 'send' case (default 1 2 4 8 16)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        help="Markdown output (default benchmarks/RESULTS.md; "
        "quick: benchmarks/.work/RESULTS-quick.md)",
    )
    parser.add_argument("--protest", help="path of the protest executable to measure")
    parser.add_argument(
        "--live-tree",
        action="store_true",
        help="measure src/ as it is instead of a compiled snapshot of it",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen cases, print the table and write RESULTS.md."""
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    plan = replace(
        plan,
        repeat=args.repeat or plan.repeat,
        markdown=args.markdown,
        concurrencies=tuple(args.concurrency or plan.concurrencies),
    )
    WORK.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="protest-bench-") as tmp:
        report = Report()
        protest = find_protest(args.protest)
        pythonpath = None
        if not args.live_tree:
            pythonpath, digest = snapshot_source(Path(tmp))
            report.notes.append(
                f"protest measured from a byte-compiled snapshot of src/ "
                f"(sha256 of the .py files: {digest})"
            )
        probe = Context(
            protest=protest,
            plan=plan,
            scratch=Path(tmp),
            protest_ready=False,
            pythonpath=pythonpath,
        )
        ready = protest_send_ready(protest, probe.env())
        ctx = Context(
            protest=protest,
            plan=plan,
            scratch=Path(tmp),
            protest_ready=ready,
            pythonpath=pythonpath,
        )
        if not ready:
            report.notes.append(
                "`protest send` is not ready (its --help lacks --concurrency/"
                "--rate): protest cases skipped."
            )
        elif NEEDS_PROTEST_SEND & set(args.cases) and not smoke_test(ctx):
            print(
                "protest send failed a 3-letter smoke run (above); fix it and run again. "
                "RESULTS.md left as it was.",
                file=sys.stderr,
            )
            return 1
        for name in args.cases:
            if name in NEEDS_PROTEST_SEND and not ready:
                continue
            print(f"[{name}]", flush=True)
            CASES[name](ctx, report)
    elapsed = time.perf_counter() - started
    text = markdown(report, plan=plan, quick=args.quick, elapsed=elapsed)
    results = args.results or (WORK / "RESULTS-quick.md" if args.quick else HERE / "RESULTS.md")
    results.write_text(text, encoding="utf-8")
    print("\n" + text)
    print_goals(report)
    print(f"\nWrote {results}")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
