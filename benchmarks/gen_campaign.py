"""Generate a synthetic campaign for the benchmarks.

Each target gets one To and three Cc addresses (all example.org) and a letter of about 2 KB,
so every message costs four RCPT round trips and a realistic DATA size. The YAML is written
by hand rather than with a YAML library so 10,000 targets take milliseconds, not seconds.

Usage: ``python benchmarks/gen_campaign.py 500 benchmarks/.work/campaign-500``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

CAMPAIGN_ID = "bench"
TEMPLATE_TXT = "letter.txt.j2"
TEMPLATE_MD = "letter.md.j2"  # Markdown letters also get an HTML part, as real campaigns do
CC_PER_TARGET = 3

_PARAGRAPH = (
    "We write to ask that the decision announced this month be reviewed in public, with the "
    "evidence and the reasons set out in full, and that the people it affects be heard before "
    "it takes effect. The matter concerns the right of every resident to take part in the "
    "decisions that shape their lives, and it deserves an open and unhurried hearing."
)

LETTER_TEMPLATE = (
    "Dear {{ target.name }},\n\n"
    + "\n\n".join([_PARAGRAPH] * 5)
    + "\n\nThis letter is addressed to you as {{ target.name }} ({{ target.id }})"
    " for the campaign {{ campaign.id }}.\n\n"
    "Yours sincerely,\n{{ sender.name }}\n"
)


def target_email(index: int) -> str:
    """The To address of target ``index``; the sink uses it to detect double sends."""
    return f"target-{index:05d}@example.org"


def target_entry(index: int, template: str) -> str:
    """One ``targets:`` list item as YAML text."""
    cc = ", ".join(f"c{c}-{index:05d}@example.org" for c in range(1, CC_PER_TARGET + 1))
    return (
        f"  - id: t{index:05d}\n"
        f'    name: "Target {index}"\n'
        f"    email: {target_email(index)}\n"
        f"    cc: [{cc}]\n"
        f"    template: {template}\n"
    )


def campaign_yaml(count: int, template: str = TEMPLATE_TXT) -> str:
    """The whole targets.yaml for ``count`` targets."""
    head = (
        "campaign:\n"
        f"  id: {CAMPAIGN_ID}\n"
        '  subject: "Benchmark letter to {{ target.name }}"\n'
        "targets:\n"
    )
    return head + "".join(target_entry(i, template) for i in range(1, count + 1))


def generate(*, out: Path, count: int, markdown: bool = False) -> Path:
    """Write the campaign into ``out`` and return the path of its targets.yaml."""
    template = TEMPLATE_MD if markdown else TEMPLATE_TXT
    letters = out / "letters"
    letters.mkdir(parents=True, exist_ok=True)
    (letters / template).write_text(LETTER_TEMPLATE, encoding="utf-8")
    targets = out / "targets.yaml"
    targets.write_text(campaign_yaml(count, template), encoding="utf-8")
    return targets


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, help="number of targets")
    parser.add_argument("out", type=Path, help="folder to write targets.yaml and letters/ into")
    parser.add_argument("--markdown", action="store_true", help="letter.md.j2 instead of .txt.j2")
    args = parser.parse_args(argv)
    print(generate(out=args.out, count=args.count, markdown=args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
