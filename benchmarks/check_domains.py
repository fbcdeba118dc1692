"""Benchmark ``protest validate --check-domains``: 1,000 distinct domains, 20 ms an answer.

Usage (from the repository root, with the venv active)::

    python benchmarks/check_domains.py            # 1,000 domains, 3 runs, prints the table
    python benchmarks/check_domains.py --write    # also puts the table in benchmarks/RESULTS.md

The DNS server is tests/dns_server.py in its own process on 127.0.0.1 (its CPU is not
charged to protest), answering every MX question after ``--delay-ms``. protest runs as a
whole process, as an organiser would run it, 16 questions at a time. The goal is under
10 s; the floor is domains / 16 x delay (1.25 s at 1,000 and 20 ms).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SECTION = "## validate --check-domains (issue 20)"
GOAL_SECONDS = 10.0


def _campaign(folder: Path, domains: int) -> Path:
    (folder / "letters").mkdir(parents=True)
    (folder / "letters" / "a.txt.j2").write_text("Dear {{ target.name }},\n\nPlease.\n")
    lines = ["campaign:", "  id: bench", '  subject: "Drop the charges"', "targets:"]
    for n in range(domains):
        lines += [
            f"  - id: t{n:05d}",
            f'    name: "Official {n}"',
            f"    email: office@d{n:05d}.protest-bench.org",
            "    template: a.txt.j2",
        ]
    (folder / "targets.yaml").write_text("\n".join(lines) + "\n")
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=1000)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "dns_server.py"), "--delay-ms", str(args.delay_ms)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT / "tests",
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        with tempfile.TemporaryDirectory() as work:
            folder = _campaign(Path(work) / "c", args.domains)
            env = {**os.environ, "PROTEST_FROM": "Ana Example <ana@example.org>"}
            command = [
                sys.executable, "-m", "protest_dispatch", "validate", "-t", str(folder),
                "--check-domains", "--dns-server", f"127.0.0.1:{port}",
            ]  # fmt: skip
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                run = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
                times.append(time.perf_counter() - started)
                checked = f"Checked {args.domains} domain(s) in DNS: {args.domains} accept mail"
                if run.returncode != 0 or checked not in " ".join(run.stdout.split()):
                    sys.stderr.write(run.stdout + run.stderr)
                    return 1
    finally:
        server.terminate()
        server.wait()
    median = statistics.median(times)
    load = os.getloadavg()[0]
    verdict = "pass" if median < GOAL_SECONDS else "FAIL"
    table = "\n".join(
        [
            SECTION,
            "",
            f"`python benchmarks/check_domains.py` on this shared machine ({os.cpu_count()} CPUs, "
            f"Python {sys.version.split()[0]}): {args.domains} distinct domains, a DNS server on "
            f"127.0.0.1 answering after {args.delay_ms:g} ms, 16 questions at a time; the whole "
            f"`protest validate --check-domains` process, {args.repeat} runs. 1-min load "
            f"average {load:.1f} at the end (above ~2, other processes share the CPUs and "
            "the times are pessimistic).",
            "",
            "| domains | answer delay | median s (min..max) | floor s | goal | result |",
            "|---:|---:|---|---:|---|---|",
            f"| {args.domains:,} | {args.delay_ms:g} ms | {median:.2f} ({min(times):.2f}.."
            f"{max(times):.2f}) | {args.domains / 16 * args.delay_ms / 1000:.2f} | "
            f"< {GOAL_SECONDS:g} s | {verdict} |",
            "",
        ]
    )
    sys.stdout.write(table)
    if args.write:
        path = HERE / "RESULTS.md"
        text = path.read_text(encoding="utf-8")
        before, _, after = text.partition(SECTION)
        rest = after.partition("\n## ")[2]
        path.write_text(
            before.rstrip("\n") + "\n\n" + table + ("\n## " + rest if rest else ""),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
