"""``protest print`` (issue 19, part 2): letters on paper, read back from the PDF with pypdf."""

from __future__ import annotations

import getpass
import io
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from kit import BASIC, FROM, SRC, cli, composer, write_campaign
from protest_dispatch.campaign.context import Today
from protest_dispatch.paper.document import PaperLetter
from protest_dispatch.paper.typeset import Typesetter, first_missing
from protest_dispatch.vocabulary import PaperSize

EXAMPLE = Path(__file__).resolve().parents[1] / "targets.yaml"
HOME = r"1 Example Street\nLondon SW1A 1AA"
PAPER_TARGET = """\
  - id: archive
    name: "The Archive"
    role: "Keeper of Records"
    postal_address: |
      The Archive
      1 Example Road
      Example City 12345
    template: archive.md.j2
"""
ARCHIVE_LETTER = (
    "Dear Keeper,\n\nPlease release the **files** on [the case](https://example.org/case).\n\n"
    "- first demand\n- second demand\n\nYours,\n\n{{ sender.name }}\n"
)
LETTERS = {
    "court.md.j2": "Dear {{ target.name }},\n\nDrop the charges.\n",
    "archive.md.j2": ARCHIVE_LETTER,
}


def env(**extra: str) -> dict[str, str]:
    return {"PROTEST_FROM": FROM, "PROTEST_POSTAL_ADDRESS": HOME, "PROTEST_CONFIG": "", **extra}


def text_of(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def squeezed(text: str) -> str:
    """Text without whitespace: PDF extraction breaks lines where the layout wrapped them."""
    return re.sub(r"\s+", "", text)


def paper_campaign(tmp_path: Path, extra: str = "", letters: dict[str, str] | None = None) -> Path:
    return write_campaign(tmp_path / "campaign", BASIC + PAPER_TARGET + extra, letters or LETTERS)


def test_a_letter_on_paper_carries_every_part_of_the_letter(tmp_path: Path) -> None:
    path = paper_campaign(tmp_path)
    out = tmp_path / "out"
    result = cli(["print", "-t", str(path), "--out", str(out)], env=env(), expect=0)
    assert "Wrote 1 letter(s) on A4 paper" in result.stderr + result.stdout
    pdf = out / "archive.pdf"
    assert [p.name for p in out.iterdir()] == ["archive.pdf"]  # the email-only court is not printed
    text = text_of(pdf)
    for part in (
        "Ana Example",
        "1 Example Street",
        "London SW1A 1AA",
        "The Archive",
        "Keeper of Records",
        "1 Example Road",
        "Example City 12345",
        Today.of(datetime.now(UTC).date()).long,
        "Drop the charges, The Archive",
        "Dear Keeper,",
        "Please release the files on the case (https://example.org/case).",
        "first demand",
        "second demand",
        "Yours,",
    ):
        assert squeezed(part) in squeezed(text), part
    assert text.count("Ana Example") >= 2  # the letterhead, the return line and the signature
    assert stat.S_IMODE(pdf.stat().st_mode) == 0o600
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


def test_paper_size_follows_the_country_unless_told(tmp_path: Path) -> None:
    path = paper_campaign(tmp_path)
    sizes = {}
    for name, extra in (("gb", ["--country", "GB"]), ("us", ["--country", "US"])):
        cli(["print", "-t", str(path), "--out", str(tmp_path / name), *extra], env=env(), expect=0)
        box = PdfReader(tmp_path / name / "archive.pdf").pages[0].mediabox
        sizes[name] = (round(float(box.width)), round(float(box.height)))
    assert sizes == {"gb": (595, 842), "us": (612, 792)}
    cli(
        [
            "print",
            "-t",
            str(path),
            "--out",
            str(tmp_path / "a4"),
            "--country",
            "US",
            "--paper",
            "a4",
        ],
        env=env(),
        expect=0,
    )
    box = PdfReader(tmp_path / "a4" / "archive.pdf").pages[0].mediabox
    assert round(float(box.height)) == 842


def test_fonts_are_embedded(tmp_path: Path) -> None:
    path = paper_campaign(tmp_path)
    cli(["print", "-t", str(path), "--out", str(tmp_path / "out")], env=env(), expect=0)
    fonts = PdfReader(tmp_path / "out" / "archive.pdf").pages[0]["/Resources"]["/Font"]
    assert fonts
    for ref in fonts.values():
        font = ref.get_object()
        descendant = (
            font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
        )
        descriptor = descendant["/FontDescriptor"].get_object()
        assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))


def test_a_long_letter_flows_onto_numbered_pages(tmp_path: Path) -> None:
    long = "Dear Keeper,\n\n" + "\n\n".join(
        f"Paragraph {n} of the appeal. " * 12 for n in range(60)
    )
    path = paper_campaign(tmp_path, letters={**LETTERS, "archive.md.j2": long})
    cli(["print", "-t", str(path), "--out", str(tmp_path / "out")], env=env(), expect=0)
    pages = PdfReader(tmp_path / "out" / "archive.pdf").pages
    assert len(pages) >= 3
    first, second = pages[0].extract_text(), pages[1].extract_text()
    assert f"1 / {len(pages)}" not in first
    assert f"2 / {len(pages)}" in second
    assert "Paragraph 59 of the appeal." in pages[-1].extract_text()


def test_the_example_russian_letters_print(tmp_path: Path) -> None:
    folder = tmp_path / "example"
    shutil.copytree(EXAMPLE.parent / "letters", folder / "letters")
    (folder / "targets.yaml").write_text(EXAMPLE.read_text("utf-8"), "utf-8")
    out = tmp_path / "out"
    args = ["print", "-t", str(folder), "--out", str(out), "--lang", "ru", "--country", "GB"]
    cli([*args, "--only", "embassy-gb"], env=env(), expect=0)
    text = squeezed(text_of(out / "embassy-gb.pdf"))
    from protest_dispatch.campaign.model import Sender

    sender = Sender(name="Ana Example", email="ana@example.org", country="GB")
    session = composer(folder / "targets.yaml", sender=sender, lang="ru", only=["embassy-gb"])
    rendered = session.text(session.audience.paper[0]).text
    assert "Ваше Превосходительство" in rendered
    for line in filter(None, rendered.split("\n")):
        assert squeezed(line.removeprefix("- ").replace("**", "")) in text, line[:60]
    assert squeezed("125 Pall Mall London SW1Y 5EA") in text


def test_print_renders_the_same_text_as_the_email_with_the_note(tmp_path: Path) -> None:
    letter = (
        "Dear Keeper,\n\n{% if sender.note %}{{ sender.note }}\n\n{% endif %}"
        "Yours,\n\n{{ sender.name }}\n"
    )
    path = paper_campaign(tmp_path, letters={**LETTERS, "archive.md.j2": letter})
    note = "I visited the archive in 2010 and saw the files myself."
    out = tmp_path / "out"
    cli(["print", "-t", str(path), "--out", str(out), "--note", note], env=env(), expect=0)
    assert squeezed(note) in squeezed(text_of(out / "archive.pdf"))


def test_each_sender_gets_the_same_alternatives_on_paper_as_by_email(tmp_path: Path) -> None:
    openings = ("I write to ask you", "May I ask you", "I ask you today")
    letter = (
        "Dear Keeper,\n\n{% choose %}I write to ask you{% or %}May I ask you{% or %}"
        "I ask you today{% endchoose %} to open the files.\n\nYours,\n\n{{ sender.name }}\n"
    )
    both = (
        '  - id: office\n    name: "The Office"\n    email: office@example.org\n'
        '    postal_address: "The Office\\n2 Example Road\\nExample City"\n'
        "    template: archive.md.j2\n"
    )
    path = paper_campaign(tmp_path, both, letters={**LETTERS, "archive.md.j2": letter})
    seen = set()
    for n in range(9):
        who = env(PROTEST_FROM=f"Ana Example <ana-{n}@example.org>")
        out = tmp_path / f"out-{n}"
        cli(["print", "-t", str(path), "--only", "office", "--out", str(out)], env=who, expect=0)
        on_paper = squeezed(text_of(out / "office.pdf"))
        dry = cli(["send", "--dry-run", "--json", "--only", "office", "-t", str(path)], env=who)
        (emailed,) = json.loads(dry.stdout)["letters"]
        (chosen,) = [o for o in openings if o in emailed["text"]]
        assert [o for o in openings if squeezed(o) in on_paper] == [chosen], n
        seen.add(chosen)
    assert len(seen) > 1


HOSTILE = [
    '#read("/etc/passwd")',
    '#image("/etc/passwd")',
    "#set page(fill: red)",
    '#import "@preview/cetz:0.2.2": *',
    "#sys.inputs",
    '#{ panic("boom") }',
    "$ x^2 + y_1 $",
    "@supreme-court",
    "<label>",
    "= Not a heading",
    "*not bold* _not emph_",
    "[square] brackets ]",
    "// not a comment",
    "/* not a comment */",
    "back\\slash \\u{41} #linebreak()",
    "~ non-breaking ~ -- --- ...",
    "#metadata(1) <letter-end>",
    "#let x = 1 #x",
    '"} ]; #read("x") //',
]


@pytest.mark.parametrize("kind", ["txt", "md"])
def test_typst_syntax_in_every_field_prints_literally(tmp_path: Path, kind: str) -> None:
    """A hostile letter, name, role, address or subject is text: never typst code."""
    hostile_lines = "\n\n".join(f"Line {n}: {h}" for n, h in enumerate(HOSTILE))
    template = "archive.txt.j2" if kind == "txt" else "archive.md.j2"
    body = hostile_lines if kind == "txt" else hostile_lines.replace("*", "\\*").replace("_", "\\_")
    body = body.replace("[", "\\[").replace("]", "\\]") if kind == "md" else body
    body = body.replace("<", "\\<") if kind == "md" else body
    target = f"""\
  - id: archive
    name: '#read("/etc/passwd") $x$'
    role: "@ref <label> `raw`"
    postal_address: |
      #image("/etc/hostname")
      $ 1 + 1 $ @x <y>
      `code` *bold* _it_
    subject: '#set text(red) {{{{ "#" }}}}import'
    template: {template}
"""
    raw_letter = "{% raw %}" + body + "{% endraw %}\n"
    path = write_campaign(
        tmp_path / "campaign", BASIC + target, {"court.md.j2": "x", template: raw_letter}
    )
    out = tmp_path / "out"
    sender = {"PROTEST_FROM": '"#read(\\"/etc/passwd\\")" <ana@example.org>'}
    cli(["print", "-t", str(path), "--out", str(out)], env=env(**sender), expect=0)
    text = squeezed(text_of(out / "archive.pdf"))
    for n, line in enumerate(HOSTILE):
        assert squeezed(f"Line {n}: {line}") in text, line
    for field in (
        '#read("/etc/passwd") $x$',
        "@ref <label> `raw`",
        '#image("/etc/hostname")',
        "$ 1 + 1 $ @x <y>",
        "`code` *bold* _it_",
        "#set text(red) #import",
    ):
        assert squeezed(field) in text, field
    assert "root:" not in text
    assert squeezed('#read("/etc/passwd")') in text  # the sender's name, as given


def test_a_character_no_font_draws_is_an_error_naming_it_and_the_letter(tmp_path: Path) -> None:
    letters = {**LETTERS, "archive.md.j2": "Dear Keeper,\n\nThe files 档案 are ours.\n"}
    path = paper_campaign(tmp_path, letters=letters)
    out = tmp_path / "out"
    result = cli(["print", "-t", str(path), "--out", str(out)], env=env(), expect=2)
    assert "archive" in result.stderr
    assert "U+6863" in result.stderr
    assert "line 3" in result.stderr
    assert not out.exists()


def test_a_character_in_the_address_is_checked_too(tmp_path: Path) -> None:
    path = paper_campaign(tmp_path, extra="")
    bad = env(PROTEST_POSTAL_ADDRESS="1 Example Street\\n🏠 London")
    result = cli(["print", "-t", str(path), "--out", str(tmp_path / "out")], env=bad, expect=2)
    assert "your postal address" in result.stderr
    assert "U+1F3E0" in result.stderr


def test_latin_greek_and_cyrillic_are_covered() -> None:
    import unicodedata

    blocks = [
        (0x20, 0x7E),
        (0xA0, 0xFF),
        (0x100, 0x17F),
        (0x180, 0x24F),
        (0x370, 0x3FF),
        (0x400, 0x4FF),
    ]
    for start, end in blocks:
        chars = "".join(
            chr(c)
            for c in range(start, end + 1)
            if unicodedata.category(chr(c)) not in ("Cn", "Cc")
        )
        assert first_missing(chars) is None, f"U+{ord(first_missing(chars) or ' '):04X}"
    quotes_and_dashes = "\u2018\u2019\u201c\u201d\u201e\u2013\u2014\u2026\u20ac\u2116\u00ab\u00bb"
    assert first_missing(quotes_and_dashes) is None
    assert first_missing("a中b") == "中"


def test_the_glyph_table_matches_the_fonts_typst_embeds() -> None:
    pytest.importorskip("fontTools")
    from fontcoverage import module_text

    shipped = (SRC / "protest_dispatch" / "paper" / "glyphs.py").read_text("utf-8")
    assert shipped == module_text(), (
        "run: python tests/fontcoverage.py > src/protest_dispatch/paper/glyphs.py"
    )


def test_printing_without_a_sender_address_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    path = paper_campaign(tmp_path)
    out = tmp_path / "out"
    result = cli(
        ["print", "-t", str(path), "--out", str(out)],
        env={"PROTEST_FROM": FROM, "PROTEST_CONFIG": ""},
        expect=2,
    )
    assert "postal address is not set" in result.stderr
    assert "--postal-address" in result.stderr
    assert not out.exists()
    nobody = cli(
        ["print", "-t", str(path), "--out", str(out)], env={"PROTEST_CONFIG": ""}, expect=2
    )
    assert "No sender is configured" in nobody.stderr


def test_an_unwritable_out_is_an_error(tmp_path: Path) -> None:
    path = paper_campaign(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out in (blocker, blocker / "sub"):
        result = cli(["print", "-t", str(path), "--out", str(out)], env=env(), expect=2)
        assert str(out) in result.stderr
    assert blocker.read_text() == "x"


def test_the_same_letter_gives_the_same_bytes_with_nothing_about_the_machine(
    tmp_path: Path,
) -> None:
    path = paper_campaign(tmp_path)
    first, second = tmp_path / "first", tmp_path / "second"
    cli(["print", "-t", str(path), "--out", str(first)], env=env(), expect=0)
    cli(["print", "-t", str(path), "--out", str(second)], env=env(TZ="Asia/Almaty"), expect=0)
    data = (first / "archive.pdf").read_bytes()
    assert data == (second / "archive.pdf").read_bytes()
    assert str(tmp_path).encode() not in data
    assert b"/CreationDate" not in data
    assert b"/ModDate" not in data
    for private in (getpass.getuser(), socket.gethostname()):
        if len(private) >= 4:
            assert private.encode() not in data
    meta = PdfReader(first / "archive.pdf").metadata
    assert meta is not None
    assert set(meta) <= {"/Title", "/Author", "/Creator", "/Producer"}


def test_a_planted_symlink_is_replaced_not_followed(tmp_path: Path) -> None:
    path = paper_campaign(tmp_path)
    out = tmp_path / "out"
    out.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    (out / "archive.pdf").symlink_to(victim)
    cli(["print", "-t", str(path), "--out", str(out)], env=env(), expect=0)
    assert victim.read_text() == "keep me"
    written = out / "archive.pdf"
    assert not written.is_symlink()
    assert written.read_bytes().startswith(b"%PDF-")
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert sorted(p.name for p in out.iterdir()) == ["archive.pdf"]  # no temporary left


def test_one_file_holds_every_letter_each_numbered_on_its_own(tmp_path: Path) -> None:
    second = PAPER_TARGET.replace("id: archive", "id: registry").replace(
        "The Archive", "The Registry"
    )
    long = "Dear Keeper,\n\n" + "\n\n".join(f"Paragraph {n}. " * 20 for n in range(40))
    path = paper_campaign(tmp_path, extra=second, letters={**LETTERS, "archive.md.j2": long})
    one = tmp_path / "all" / "letters.pdf"
    cli(["print", "-t", str(path), "--one", str(one)], env=env(), expect=0)
    pages = PdfReader(one).pages
    texts = [page.extract_text() for page in pages]
    starts = [n for n, text in enumerate(texts) if "Keeper of Records" in text]
    assert len(starts) == 2
    assert starts[0] == 0
    assert all("1 / " not in texts[n] for n in starts)
    assert f"2 / {starts[1]}" in texts[1]
    assert stat.S_IMODE(one.stat().st_mode) == 0o600


def test_only_prints_a_letter_that_has_email_and_refuses_one_without_address(
    tmp_path: Path,
) -> None:
    extra = '    postal_address: "Court House\\nCourt City"\n'
    path = write_campaign(tmp_path / "c", BASIC + extra, LETTERS)
    out = tmp_path / "out"
    nothing = cli(["print", "-t", str(path), "--out", str(out)], env=env(), expect=0)
    assert "Nothing to print" in nothing.stderr + nothing.stdout
    cli(["print", "-t", str(path), "--out", str(out), "--only", "court"], env=env(), expect=0)
    assert "Drop the charges" in text_of(out / "court.pdf")
    bare = write_campaign(tmp_path / "bare", BASIC, LETTERS)
    refused = cli(["print", "-t", str(bare), "--only", "court"], env=env(), expect=2)
    assert "has no postal address" in refused.stderr
    abroad = write_campaign(tmp_path / "abroad", BASIC + extra + "    country: KZ\n", LETTERS)
    elsewhere = cli(
        ["print", "-t", str(abroad), "--only", "court", "--country", "GB"], env=env(), expect=2
    )
    assert "only for senders in KZ" in elsewhere.stderr


def test_help_does_not_load_the_renderer() -> None:
    code = (
        "import sys; from protest_dispatch.cli.app import app; "
        "assert 'typst' not in sys.modules and 'protest_dispatch.paper.typeset' not in sys.modules"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(SRC)}
    )


_TYPST_SYNTAX = "#$@<>[]{}()*_=`\\/~-\"'.,:;+%&|!?^"
_SCRIPTS = (
    "abcxyzABCXYZ0189 "
    + "".join(
        chr(c) for c in (0x105, 0x107, 0x119, 0x142, 0x144, 0x17C, 0x416, 0x436, 0x42F, 0x44F)
    )
    + "".join(chr(c) for c in (0x401, 0x451, 0x3A9, 0x3C9, 0x3A3, 0x3C3, 0x3AC, 0x3AE))
)
"""Latin with Extended-A, Cyrillic and Greek, written as code points (ruff flags look-alikes)."""


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(
    lines=st.lists(
        st.text(alphabet=_TYPST_SYNTAX + _SCRIPTS, min_size=1, max_size=60).filter(
            lambda line: line.strip() != ""
        ),
        min_size=1,
        max_size=6,
    )
)
def test_any_mix_of_typst_syntax_and_letters_prints_as_written(lines: list[str]) -> None:
    """Property: whatever the text, the page shows exactly it (typst never reads it as code)."""
    text = "\n\n".join(lines)
    letter = PaperLetter(
        target_id="archive",
        sender_name=lines[0][:40].strip() or "Ana",
        sender_address=("1 Example Street",),
        date="21 September 2011",
        recipient=("The Archive", *(line[:60].strip() or "x" for line in lines[:3])),
        subject=lines[-1][:100].strip() or "Subject",
        text=text,
        markdown=False,
    )
    with Typesetter(paper=PaperSize.A4) as typesetter:
        pdf = typesetter.pdf([letter])
    shown = squeezed("".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))
    for line in lines:
        assert squeezed(line) in shown, line
