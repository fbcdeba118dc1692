"""What the originality check (own_share, issue 18) adds to a dry run of 10,000 letters.

Goal: under 2 s for 10,000 letters. The check runs only for letters that carry the
sender's own words (a note or their own version): without them a letter is the
organiser's text by construction and costs nothing. So the benchmark gives every
letter a note, in a ~2 KB letter with three ``choose`` blocks of three
alternatives (each letter is compared with 4 renderings of the organiser's text).

Two measurements:
- in process: the time spent in the check itself (``Composer._own``), summed over
  the letters, the renderings it needs included;
- whole processes: ``protest send --dry-run`` with a note against the same without
  one (no check), median of ``--repeat`` runs; the difference also holds the note's
  own rendering and printing, so it bounds the check's cost from above.

Usage: ``python benchmarks/originality.py [--targets 10000] [--repeat 3]``; it
writes the section "Originality check" of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

from protest_dispatch.campaign.compose import Composer  # noqa: E402 - after the path is set
from protest_dispatch.campaign.loading import load_campaign  # noqa: E402
from protest_dispatch.campaign.model import Sender  # noqa: E402

GOAL_SECONDS = 2.0
NOTE = (
    "I grew up in a town where the bank took three of our neighbours' homes in one winter, "
    "and I have followed this case since the first reports. Please listen to the families."
)
_PARAGRAPH = (
    "The decision announced this month should be reviewed in public, with the evidence and "
    "the reasons set out in full, and the people it affects should be heard before it takes "
    "effect. The matter concerns the right of every resident to take part in the decisions "
    "that shape their lives, and it deserves an open and unhurried hearing."
)
LETTER = (
    "Dear {{ target.name }},\n\n"
    "{% choose %}I am writing to ask{% or %}I write to ask{% or %}May I ask{% endchoose %} "
    "you to reconsider.\n\n"
    + "\n\n".join([_PARAGRAPH] * 4)
    + "\n\n{% choose %}\nThank you for your attention to this matter.\n{% or %}\n"
    "I am grateful for your attention.\n{% or %}\n{% endchoose %}\n"
    "{% if sender.note %}\n{{ sender.note }}\n\n{% endif %}"
    "{% choose %}I look forward to your reply.{% or %}I hope to hear from you."
    "{% or %}Please reply.{% endchoose %}\n\n"
    "Yours sincerely,\n{{ sender.name }}\n"
)


def campaign(folder: Path, count: int) -> Path:
    (folder / "letters").mkdir(parents=True, exist_ok=True)
    (folder / "letters" / "letter.txt.j2").write_text(LETTER, encoding="utf-8")
    lines = ["campaign:", "  id: bench-own", '  subject: "A letter to {{ target.name }}"']
    lines.append("targets:")
    for n in range(1, count + 1):
        lines += [
            f"  - id: t{n:05d}",
            f'    name: "Target {n}"',
            f"    email: target-{n:05d}@example.org",
            "    template: letter.txt.j2",
        ]
    path = folder / "targets.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def in_process(path: Path) -> tuple[float, float, int]:
    """(seconds in the check, seconds rendering the letters, letters checked)."""
    composer = Composer(
        loaded=load_campaign(path=path),
        sender=Sender(name="Ana Example", email="ana@example.org", note=NOTE),
    )
    gc.freeze()  # as the CLI does once the campaign is loaded (cli/startup.py)
    checking = rendering = 0.0
    for selected in composer.audience.letters:
        line = composer.loaded.target_line(selected.index)
        started = time.perf_counter()
        rendered = composer.renderer.render(target=selected.target, line=line)
        between = time.perf_counter()
        own = composer._own(selected, rendered, line=line)
        checking += time.perf_counter() - between
        rendering += between - started
        assert own.own_words > 0
    return checking, rendering, len(composer.audience.letters)


def dry_run(path: Path, *, note: bool, home: Path) -> float:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PROTEST_")},
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "NO_COLOR": "1",
        "PYTHONPATH": str(ROOT / "src"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "PROTEST_FROM": "Ana Example <ana@example.org>",
    }
    argv = [sys.executable, "-m", "protest_dispatch", "send", "--dry-run", "-t", str(path)]
    if note:
        argv += ["--note", NOTE]
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def calibration() -> float:
    """How fast this CPU is right now (the machine is shared; see README.md)."""
    started = time.perf_counter()
    sum(range(1_000_000))
    return time.perf_counter() - started


def write_results(section: str) -> None:
    results = HERE / "RESULTS.md"
    text = results.read_text(encoding="utf-8") if results.exists() else ""
    text = re.sub(r"\n## Originality check \(issue 18\)\n.*?(?=\n## |\Z)", "", text, flags=re.S)
    results.write_text(text.rstrip("\n") + "\n\n" + section, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-own-") as scratch:
        path = campaign(Path(scratch) / "campaign", args.targets)
        checking, rendering, count = in_process(path)
        home = Path(scratch) / "home"
        plain = [dry_run(path, note=False, home=home) for _ in range(args.repeat)]
        noted = [dry_run(path, note=True, home=home) for _ in range(args.repeat)]
    added = statistics.median(noted) - statistics.median(plain)
    verdict = "pass" if checking < GOAL_SECONDS else "FAIL"
    section = (
        "## Originality check (issue 18)\n\n"
        f"`python benchmarks/originality.py --targets {args.targets} --repeat {args.repeat}` "
        f"on this shared machine ({os.cpu_count()} CPUs, Python {sys.version.split()[0]}; "
        f"a pure-Python loop of 10^6 additions took {calibration():.3f} s): "
        "a ~2 KB letter with three `choose` blocks of three alternatives, every letter with "
        "a note (without one the check costs nothing).\n\n"
        "| measure | seconds | goal |\n|---|---:|---|\n"
        f"| the check, in process, {count:,} letters | {checking:.2f} | "
        f"< {GOAL_SECONDS:g} s {verdict} |\n"
        f"| rendering those letters, for comparison | {rendering:.2f} | |\n"
        f"| dry run without a note (median of {args.repeat}) | "
        f"{statistics.median(plain):.2f} | |\n"
        f"| dry run with a note (median of {args.repeat}) | {statistics.median(noted):.2f} | |\n"
        f"| difference (check + the note's rendering and printing) | {added:.2f} | |\n"
    )
    write_results(section)
    print(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
