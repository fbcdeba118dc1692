"""The layout ARCHITECTURE.md describes: no import circles, and the map names every package."""

from __future__ import annotations

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


def test_the_architecture_map_names_every_subpackage() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    modules = sorted(p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("_"))
    missing = [f"{p}/" for p in packages if f"`{p}/`" not in text]
    missing += [f"{m}.py" for m in modules if f"{m}.py" not in text and f"`{m}`" not in text]
    assert not missing, f"ARCHITECTURE.md does not mention: {missing}"


@pytest.mark.parametrize("argv", [["log"], ["replies"], ["inbox", "--help"]])
def test_commands_that_need_no_campaign_do_not_load_its_machinery(argv: list[str]) -> None:
    """jinja2 and markdown-it cost start-up; only commands that render letters load them."""
    probe = (
        "import sys\n"
        "from protest_dispatch.cli.app import app\n"
        f"try:\n    app({argv!r}, prog_name='protest')\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in ('jinja2', 'markdown_it') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr
