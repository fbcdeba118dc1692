"""What each reading command imports at start-up: modules, and their import time.

    python benchmarks/startup.py [--runs N] [--src DIR] [--label TEXT]

Runs ``protest --help``, ``log``, ``status`` and ``inbox -q`` (no mailbox set up: it
stops at the settings, which is where its cron path spends its start-up) in a clean
environment and prints one Markdown row each: modules imported (a count that does not
depend on the machine's load), the summed import time from ``python -X importtime``
(best of N runs: on a shared host the minimum is the least disturbed), and which of
the costly packages were loaded. ``--src`` measures another tree (``PYTHONPATH``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
COSTLY = (
    "pydantic_settings",
    "pydantic",
    "jinja2",
    "markdown_it",
    "yaml",
    "rich",
    "email_validator",
    "aiosmtplib",
    "imapclient",
    "asyncio",
    "ssl",
)
COMMANDS = (["--help"], ["log"], ["status"], ["inbox", "-q"])


def measure(argv: list[str], *, env: dict[str, str], cwd: Path) -> tuple[int, float, list[str]]:
    """Modules imported, summed import time in ms, and the costly packages loaded."""
    probe = (
        "import sys\n"
        "from protest_dispatch.cli.app import app\n"
        f"try:\n    app({argv!r}, prog_name='protest')\nexcept SystemExit:\n    pass\n"
        f"print('MODULES', len(sys.modules), [m for m in {COSTLY!r} if m in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", probe],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    micros = sum(
        int(line.split("|")[0].split(":")[1])
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "self [us]" not in line
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("MODULES"))
    _, count, loaded = line.split(" ", 2)
    return int(count), micros / 1000, json.loads(loaded.replace("'", '"'))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--src", type=Path, help="the src/ folder to measure")
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="startup-"))
    (scratch / "config.toml").write_text('imap_host = "127.0.0.1"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROTEST_")}
    env.update(
        {
            "PROTEST_CONFIG": str(scratch / "config.toml"),
            "PROTEST_LOG": str(scratch / "log.sqlite3"),
            "PROTEST_FROM": "Ana <ana@example.org>",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "NO_COLOR": "1",
        }
    )
    if args.src is not None:
        env["PYTHONPATH"] = str(args.src.resolve())
    for argv in COMMANDS:
        runs = [measure(argv, env=env, cwd=scratch) for _ in range(args.runs)]
        count, _, loaded = runs[0]
        best = min(ms for _, ms, _ in runs)
        print(
            f"| {args.label} | protest {' '.join(argv)} | {count} | {best:.0f} | "
            f"{', '.join(loaded) or '-'} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
