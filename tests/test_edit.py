"""The sender's own version of a letter (issue 18, item 2): ``protest edit``.

The editor is a script that writes a known text (``EDITOR``), and ``edit`` runs as a
real process on a pseudo-terminal, as a person would start it.
"""

from __future__ import annotations

import json
import os
import pty
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kit import FROM, cli, env_for, send, subprocess_env, write_campaign
from smtp_server import Server

CAMPAIGN = """\
campaign:
  id: free-them
  subject: "Drop the charges"
targets:
  - id: court
    name: "Judge Example"
    email: court@example.org
    template: appeal.md.j2
  - id: ministry
    name: "The Ministry"
    email: ministry@example.org
    template: appeal.md.j2
"""
LETTER = (
    "Dear {{ target.name }},\n\nPlease drop the charges against the four activists now.\n"
    "{% if sender.note %}\n{{ sender.note }}\n{% endif %}\n"
    "Yours faithfully,\n{{ sender.name }}\n"
)
MINE = (
    "Dear Judge,\n\nI met two of the four at a meeting in 2010; they are teachers, not "
    "criminals, and {{ this }} is mine.\n\nYours faithfully,\nAna Example\n"
)


def _campaign(root: Path, letter: str = LETTER) -> Path:
    return write_campaign(root, CAMPAIGN, {"appeal.md.j2": letter})


def _editor(tmp_path: Path, *, text: str | None, status: int = 0) -> Path:
    """An EDITOR that records its arguments and what it was given, then writes ``text``."""
    script = tmp_path / "editor.py"
    log = tmp_path / "editor-args.json"
    script.write_text(
        textwrap.dedent(
            f"""\
            #!{sys.executable}
            import json, sys
            files = [a for a in sys.argv[1:] if a.endswith(".md")]
            seen = [open(f, encoding="utf-8").read() for f in files]
            json.dump({{"argv": sys.argv[1:], "seen": seen}}, open({str(log)!r}, "w"))
            text = {text!r}
            if text is not None:
                open(files[0], "w", encoding="utf-8").write(text)
            sys.exit({status})
            """
        )
    )
    script.chmod(0o700)
    return script


def _edit(path: Path, *args: str, env: dict[str, str], editor: Path | None) -> tuple[int, str]:
    """``protest edit`` as a child process with a terminal for stdin and stdout."""
    primary, secondary = pty.openpty()
    full = {"PROTEST_FROM": FROM, **env}
    if editor is not None:
        full["EDITOR"] = str(editor)
    child = subprocess.Popen(
        [sys.executable, "-m", "protest_dispatch", "edit", *args, "-t", str(path)],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=subprocess_env(full),
    )
    os.close(secondary)
    output = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(primary)
    return child.wait(timeout=60), output.decode("utf-8", "replace")


def _env(tmp_path: Path) -> dict[str, str]:
    """The test's own data folder (the conftest sets XDG_DATA_HOME for this process)."""
    return {"XDG_DATA_HOME": os.environ["XDG_DATA_HOME"], "HOME": os.environ["HOME"]}


def _edits() -> Path:
    return Path(os.environ["XDG_DATA_HOME"]) / "protest" / "edits" / "free-them"


def test_edit_saves_the_senders_version_private_and_every_command_uses_it(
    tmp_path: Path, smtp_server: Server
) -> None:
    path = _campaign(tmp_path / "c")
    editor = _editor(tmp_path, text=MINE)
    code, shown = _edit(path, "court", env=_env(tmp_path), editor=editor)
    assert code == 0, shown
    assert "Saved your version of the letter to court" in shown
    opened = json.loads((tmp_path / "editor-args.json").read_text())
    assert len(opened["argv"]) == 1
    assert opened["argv"][0].endswith("court.draft.md")
    assert opened["seen"][0].startswith("Dear Judge Example,\n\nPlease drop the charges")
    assert "Yours faithfully" in opened["seen"][0]
    saved = _edits() / "court.md"
    assert saved.read_text() == MINE
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert not (_edits() / "court.draft.md").exists()
    dry = cli(["send", "-t", str(path), "--dry-run", "--from", FROM], expect=0)
    assert "court (your version)" in dry.output
    assert "{{ this }} is mine" in dry.output, "the sender's words are not a template"
    assert "ministry (appeal.md.j2)" in dry.output
    validate = cli(["validate", "-t", str(path), "--from", FROM], expect=0)
    assert "your version" in validate.output
    env = env_for(smtp_server, log=tmp_path / "log.sqlite3")
    assert send(path, "--note", "I wrote this myself.", env=env).code == 0
    [court] = [m for m in smtp_server.messages if "court@example.org" in m.rcpt_tos]
    body = court.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "teachers, not criminals, and {{ this }} is mine." in body
    assert body.index("I wrote this myself.") < body.index("Yours faithfully")
    assert str(court.message["Subject"]) == "Drop the charges"


def test_an_empty_file_or_a_failing_editor_keeps_the_previous_version(tmp_path: Path) -> None:
    path = _campaign(tmp_path / "c")
    env = _env(tmp_path)
    assert _edit(path, "court", env=env, editor=_editor(tmp_path, text=MINE))[0] == 0
    code, shown = _edit(path, "court", env=env, editor=_editor(tmp_path, text="  \n\n"))
    assert code == 0
    assert "You saved an empty file, so your previous version is kept." in shown
    code, shown = _edit(path, "court", env=env, editor=_editor(tmp_path, text="lost", status=3))
    assert code == 1
    assert "The editor exited with an error (status 3), so your previous version is kept." in shown
    assert (_edits() / "court.md").read_text() == MINE
    seen = json.loads((tmp_path / "editor-args.json").read_text())["seen"][0]
    assert seen == MINE, "the editor opens the sender's version, not the campaign's"


def test_reset_removes_the_senders_version(tmp_path: Path) -> None:
    path = _campaign(tmp_path / "c")
    env = _env(tmp_path)
    assert _edit(path, "court", env=env, editor=_editor(tmp_path, text=MINE))[0] == 0
    run = cli(["edit", "court", "--reset", "-t", str(path), "--from", FROM], expect=0)
    assert "Removed your version of the letter to court" in run.output
    assert not (_edits() / "court.md").exists()
    dry = cli(["send", "-t", str(path), "--dry-run", "--from", FROM], expect=0)
    assert "your version" not in dry.output
    again = cli(["edit", "court", "--reset", "-t", str(path), "--from", FROM], expect=0)
    assert "There was no version of yours for court" in again.output


def test_without_a_terminal_edit_exits_2_and_says_why(tmp_path: Path) -> None:
    path = _campaign(tmp_path / "c")
    run = cli(["edit", "court", "-t", str(path), "--from", FROM], env={"EDITOR": "true"}, expect=2)
    assert "needs a terminal" in run.output
    assert not _edits().exists()


def test_a_changed_campaign_letter_is_said_and_edit_shows_both(tmp_path: Path) -> None:
    path = _campaign(tmp_path / "c")
    env = _env(tmp_path)
    assert _edit(path, "court", env=env, editor=_editor(tmp_path, text=MINE))[0] == 0
    (path.parent / "letters" / "appeal.md.j2").write_text(
        LETTER.replace("drop the charges", "release the four and drop the charges")
    )
    dry = cli(["send", "-t", str(path), "--dry-run", "--from", FROM], expect=0)
    assert "The campaign's letter for court changed since you edited it on" in dry.output
    assert "'protest edit court' shows both" in dry.output
    validate = cli(["validate", "-t", str(path), "--from", FROM], expect=0)
    assert "changed since you edited it" in validate.output
    code, shown = _edit(path, "court", env=env, editor=_editor(tmp_path, text=MINE + "\n"))
    assert code == 0, shown
    opened = json.loads((tmp_path / "editor-args.json").read_text())
    assert [Path(a).name for a in opened["argv"]] == ["court.draft.md", "court.campaign.md"]
    assert "release the four" in opened["seen"][1]
    assert not (_edits() / "court.campaign.md").exists()
    quiet = cli(["send", "-t", str(path), "--dry-run", "--from", FROM], expect=0)
    assert "changed since you edited it" not in quiet.output


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Dear all,\n\n![me](https://tracker.example.org/p.png)\n", "shows an image (on line 3"),
        ("Dear all,\nFree \u202ethem\n", "U+202E"),
        ("Dear all,\n\x1b[2J\n", "control character"),
    ],
)
def test_an_edit_is_checked_like_a_letter_and_kept_to_fix(
    tmp_path: Path, text: str, words: str
) -> None:
    path = _campaign(tmp_path / "c")
    env = _env(tmp_path)
    code, shown = _edit(path, "court", env=env, editor=_editor(tmp_path, text=text))
    assert code == 2, shown
    assert words in " ".join(shown.split())
    assert not (_edits() / "court.md").exists()
    assert (_edits() / "court.draft.md").read_text() == text
    code, shown = _edit(path, "court", env=env, editor=_editor(tmp_path, text=MINE))
    assert code == 0, shown
    assert "Opening the text you wrote last time" in shown
    assert json.loads((tmp_path / "editor-args.json").read_text())["seen"][0] == text


@pytest.mark.parametrize("kind", ["symlink", "fifo", "huge"])
def test_a_bad_edit_file_is_refused_by_every_command_with_its_path(
    tmp_path: Path, kind: str
) -> None:
    path = _campaign(tmp_path / "c")
    folder = _edits()
    folder.mkdir(parents=True)
    planted = folder / "court.md"
    if kind == "symlink":
        (tmp_path / "elsewhere.md").write_text("Dear all,\n")
        planted.symlink_to(tmp_path / "elsewhere.md")
        words = "is a symbolic link"
    elif kind == "fifo":
        os.mkfifo(planted)
        words = "is a named pipe (FIFO)"
    else:
        planted.write_text("x" * 100_001)
        words = "holds more than 100,000 characters"
    for command in (["validate"], ["send", "--dry-run"]):
        run = cli([*command, "-t", str(path), "--from", FROM], expect=2)
        flat = " ".join(run.output.split())
        assert f"{planted}" in flat
        assert "target 'court', field 'your version'" in flat
        assert words in flat


def test_the_editor_is_an_argument_list_never_a_shell(tmp_path: Path) -> None:
    path = _campaign(tmp_path / "c")
    marker = tmp_path / "pwned"
    editor = _editor(tmp_path, text=MINE)
    code, _ = _edit(
        path,
        "court",
        env={**_env(tmp_path), "VISUAL": f"{editor} --flag; touch {marker}"},
        editor=None,
    )
    assert not marker.exists()
    opened = json.loads((tmp_path / "editor-args.json").read_text())
    assert opened["argv"][:3] == ["--flag;", "touch", str(marker)]
    assert code == 0
