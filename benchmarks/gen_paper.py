"""Generate a campaign of letters on paper for the ``print`` benchmark.

Each target has a postal address and no email, so ``protest print`` prints every one.
The letter is the Markdown of ``gen_campaign.py`` (about 2 KB, one page), with a list
and emphasis, so the benchmark pays for the Markdown-to-page conversion too.

Usage: ``python benchmarks/gen_paper.py 100 benchmarks/.work/paper-100``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gen_campaign import LETTER_TEMPLATE

TEMPLATE = "letter.md.j2"
SENDER_ADDRESS = r"1 Example Street\nLondon SW1A 1AA"
"""For PROTEST_POSTAL_ADDRESS: print needs the sender's address."""

LETTER = LETTER_TEMPLATE.replace(
    "Yours sincerely,",
    "We ask you to:\n\n- review the decision **in public**;\n- hear the people it affects.\n\n"
    "Yours sincerely,",
)


def target_entry(index: int) -> str:
    return (
        f"  - id: p{index:05d}\n"
        f'    name: "Target {index}"\n'
        '    role: "Head of the Example Office"\n'
        "    postal_address: |\n"
        f"      Example Office {index}\n"
        f"      {index} Example Road\n"
        "      Example City 12345\n"
        f"    template: {TEMPLATE}\n"
    )


def generate(*, out: Path, count: int) -> Path:
    """Write the campaign into ``out`` and return the path of its targets.yaml."""
    letters = out / "letters"
    letters.mkdir(parents=True, exist_ok=True)
    (letters / TEMPLATE).write_text(LETTER, encoding="utf-8")
    head = (
        'campaign:\n  id: bench-paper\n  subject: "Benchmark letter to {{ target.name }}"\n'
        "targets:\n"
    )
    targets = out / "targets.yaml"
    targets.write_text(head + "".join(target_entry(i) for i in range(1, count + 1)), "utf-8")
    return targets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, help="number of targets")
    parser.add_argument("out", type=Path, help="folder to write targets.yaml and letters/ into")
    args = parser.parse_args(argv)
    print(generate(out=args.out, count=args.count))
    return 0


if __name__ == "__main__":
    sys.exit(main())
