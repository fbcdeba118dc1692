"""Every command is documented: in its --help and in the README."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from kit import cli
from protest_dispatch.cli.app import app

README = Path(__file__).resolve().parents[1] / "README.md"
COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def test_the_app_has_commands() -> None:
    assert {"validate", "send"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_command_has_help_text(name: str) -> None:
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    assert (command.help or "").strip(), f"'protest {name}' has no help text"
    undocumented = [
        p.name
        for p in command.params
        if getattr(p, "help", None) is None and not getattr(p, "hidden", False)
    ]
    assert not undocumented, f"'protest {name}' options without help: {undocumented}"
    run = cli([name, "--help"], expect=0)
    first_line = " ".join(command.help.strip().splitlines()[0].split())
    assert first_line in " ".join(run.out.split()), "--help wraps lines; compare the words"


@pytest.mark.parametrize("name", COMMANDS)
def test_command_appears_in_the_readme(name: str) -> None:
    assert README.is_file(), "README.md is missing at the repository root"
    assert f"protest {name}" in README.read_text(encoding="utf-8"), (
        f"README.md does not mention 'protest {name}'"
    )


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_appears_in_the_readme(name: str) -> None:
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    readme = README.read_text(encoding="utf-8")
    missing = [
        opt
        for param in command.params
        for opt in getattr(param, "opts", [])
        if opt.startswith("--") and opt not in readme
    ]
    assert not missing, f"README.md does not mention these options of 'protest {name}': {missing}"


def test_every_setting_appears_in_the_readme() -> None:
    from protest_dispatch.settings.model import KEYS, env_name

    readme = README.read_text(encoding="utf-8")
    missing = [
        key
        for key in KEYS
        if f"`{key}`" not in readme and f"{key} =" not in readme and env_name(key) not in readme
    ]
    assert not missing, f"README.md does not document these settings: {missing}"
