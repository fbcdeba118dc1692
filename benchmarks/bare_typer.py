"""A bare Typer app with protest's command names, as the floor for ``--help`` start-up time.

``protest --help`` can never be faster than Typer (plus Click and Rich) itself; comparing with
this app shows how much start-up protest adds on top of its framework. The command names
match ``protest --help`` and so do the app settings (plain Click help, no Rich), so both
help screens do the same amount of work.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="protest",
    help="Bare Typer app for start-up comparison.",
    no_args_is_help=True,
    rich_markup_mode=None,  # the same settings as protest's app, so only protest's own
    pretty_exceptions_enable=False,  # start-up work differs (Rich help costs ~0.1 s more)
)

COMMANDS = ("validate", "send", "log", "init", "doctor", "calls", "called", "status")


def _make_command(name: str) -> None:
    """Register a do-nothing command so the help screen lists ``name``."""

    def command() -> None:
        """Do nothing."""

    command.__name__ = name
    app.command(name=name, help=f"The {name} command.")(command)


for _name in COMMANDS:
    _make_command(_name)


if __name__ == "__main__":
    app()
