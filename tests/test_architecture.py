"""The layout ARCHITECTURE.md describes: no import circles, and the map names every package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "protest_dispatch"


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("protest_dispatch")


def test_no_module_imports_itself_through_others(graph: grimp.ImportGraph) -> None:
    """import-linter keeps the layers apart; this keeps circles out inside a layer too."""
    circles = sorted(
        (module, imported)
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
        if imported != module and graph.chain_exists(importer=imported, imported=module)
    )
    assert not circles, f"import circles: {circles}"


def _rows() -> dict[str, str]:
    """The table of ARCHITECTURE.md: first cell (`cli/`, base) to the whole row."""
    rows = {}
    for line in (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            rows[line.split("|")[1].strip().strip("`")] = line
    return rows


def test_the_architecture_map_names_every_module_in_its_row() -> None:
    """Each package's row names each of its modules (views/ in cli's row); base in base's."""
    rows = _rows()
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if path.stem.startswith("_"):
            continue
        row = rows.get(f"{parts[0]}/" if len(parts) > 1 else "base", "")
        if f"`{path.stem}`" not in row and f"`{path.name}`" not in row:
            missing.append("/".join(parts))
    assert not missing, f"ARCHITECTURE.md's table does not name: {missing}"


SHARED_BY_COMMANDS = {
    "session",
    "preview",
    "log_access",
    "checks",
    "doctor_imap",
    "doctor_proxy",
    "domains",
    "people",
}
"""commands/ modules that are no command's own, each named in ARCHITECTURE.md."""


def _commands() -> set[str]:
    from protest_dispatch.cli.app import app

    return {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}


def test_a_command_has_one_name_across_commands_and_views() -> None:
    """commands/foo.py and cli/views/foo.py are `protest foo`'s (ARCHITECTURE: a new command)."""
    names = _commands()
    folder = PACKAGE / "cli" / "views"
    views = {p.stem for p in folder.glob("*.py")} | {
        p.name for p in folder.iterdir() if (p / "__init__.py").is_file()
    }
    views -= {"__init__"}
    cores = {p.stem for p in (PACKAGE / "commands").glob("*.py")} - {"__init__"}
    assert views <= names, f"views not named for a command: {sorted(views - names)}"
    stray = cores - names - SHARED_BY_COMMANDS
    assert not stray, f"commands/ modules named for no command: {sorted(stray)}"
    assert cores >= SHARED_BY_COMMANDS, sorted(SHARED_BY_COMMANDS - cores)


NOT_FOR_READERS = ("jinja2", "markdown_it", "yaml", "aiosmtplib", "imapclient", "asyncio", "ssl")


@pytest.mark.parametrize("argv", [["log"], ["replies"], ["status"], ["inbox", "--help"]])
def test_commands_that_need_no_campaign_do_not_load_its_machinery(
    argv: list[str], tmp_path: Path
) -> None:
    """jinja2, markdown-it, YAML and the mail clients cost start-up; commands that only read
    the send log load none of them (status reads a campaign file only when one is here)."""
    probe = (
        "import sys\n"
        "from protest_dispatch.cli.app import app\n"
        f"try:\n    app({argv!r}, prog_name='protest')\n"
        "except SystemExit:\n    pass\n"
        f"print(sorted(m for m in {NOT_FOR_READERS!r} if m in sys.modules))\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PROTEST_")},
        "PROTEST_CONFIG": str(tmp_path / "none.toml"),
        "PROTEST_LOG": str(tmp_path / "log.sqlite3"),
        "PROTEST_FROM": "Ana <ana@example.org>",
    }
    (tmp_path / "none.toml").write_text("", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr


def test_no_module_is_over_500_lines() -> None:
    """Small modules (GUIDE): a module that grows past 500 lines holds two concerns."""
    long = {
        str(path.relative_to(PACKAGE)): lines
        for path in PACKAGE.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert not long, f"split these modules: {long}"
