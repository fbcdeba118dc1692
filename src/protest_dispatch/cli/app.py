"""The ``protest`` command: the app, its error mapping, and its commands in help's order.

The commands live by group in ``letters``, ``records``, ``account`` and ``mailbox``.
Heavy modules (pydantic, jinja2, aiosmtplib) are imported inside the commands so
``protest --help`` starts as fast as a bare Typer app.
"""

from __future__ import annotations

import gc
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from protest_dispatch.cli import account, letters, mailbox, organiser, records
from protest_dispatch.cli.startup import LOADS_CAMPAIGN, start_up_done
from protest_dispatch.errors import ProtestError
from protest_dispatch.vocabulary import ExitCode


class _Group(TyperGroup):
    """Maps every ProtestError to its message and exit code, in this one place.

    Ctrl-C outside a send's own handling (a sign-in waiting for the browser, a long
    validation) ends with 130, the shell's code for an interrupt, not click's
    "Aborted!" and 1, the code for a failed letter.
    """

    def invoke(self, ctx: Any) -> Any:  # typer.Context is a subclass; the base takes its own
        from protest_dispatch.cli import output

        try:
            return super().invoke(ctx)
        except ProtestError as exc:
            output.error(exc)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            output.say("Interrupted.")
            raise typer.Exit(ExitCode.INTERRUPTED) from None


app = typer.Typer(
    cls=_Group,
    name="protest",
    help="Email protest letters to the officials a campaign targets, safely.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"protest {version('protest-dispatch')}")
        raise typer.Exit


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Email protest letters to the officials a campaign targets, safely.

    Preview with 'protest send --dry-run', then send with 'protest send'.
    """
    if ctx.invoked_subcommand not in LOADS_CAMPAIGN:
        start_up_done()
    _private_data_folder()


def _private_data_folder() -> None:
    """A data folder others may enter (made by hand, with the umask's 755) becomes 700."""
    from protest_dispatch.files import data_folder, tighten_private_folder

    folder = data_folder()
    had = tighten_private_folder(folder)
    if had is not None:
        from protest_dispatch.cli import output

        output.say(
            f"note: the data folder {folder} was mode {had:o}, so other users could list "
            "it; it is now 700."
        )


app.command()(letters.validate)
app.command()(letters.send)
app.command()(letters.cron)
app.command()(letters.edit)
app.command("print")(letters.print_)
app.command("log")(records.log_)
app.command()(account.init)
app.command()(account.doctor)
app.command()(account.login)
app.command()(account.logout)
app.command()(records.calls)
app.command()(records.called)
app.command()(records.posted)
app.command()(records.status)
app.command()(mailbox.inbox)
app.command()(mailbox.replies)
app.command()(mailbox.followup)
app.command()(organiser.new)
app.command()(organiser.schema)
app.command()(organiser.keygen)
app.command()(organiser.sign)
app.command()(organiser.trust)
app.command()(organiser.get)


def main() -> None:
    gc.disable()  # until the command's start-up is done: see cli/startup.py
    try:
        app(prog_name="protest")  # also under python -m: completion and usage say protest
    finally:
        # The last collections at exit would walk every object only to free memory the
        # OS takes back anyway (~45 ms). Files, the send log and atexit still close.
        gc.freeze()
