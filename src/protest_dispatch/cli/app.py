"""The ``protest`` command: parse, call the core, render. Nothing else lives here.

Heavy modules (pydantic, jinja2, aiosmtplib) are imported inside the commands so
``protest --help`` starts as fast as a bare Typer app.
"""

from __future__ import annotations

import gc
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from protest_dispatch.cli.options import (
    CampaignOpt,
    ConfigOpt,
    CountryOpt,
    FromOpt,
    LangOpt,
    LogOpt,
    NoteFileOpt,
    NoteOpt,
    OnlyOpt,
    SmtpAuthOpt,
    SmtpCaFileOpt,
    SmtpHostOpt,
    SmtpPortOpt,
    SmtpSecurityOpt,
    TargetsOpt,
)
from protest_dispatch.errors import InputError, ProtestError
from protest_dispatch.vocabulary import CallOutcome, ExitCode, TokenStore

if TYPE_CHECKING:
    from protest_dispatch.cli.views.send import Display
    from protest_dispatch.commands.send import SendRequest
    from protest_dispatch.commands.session import Session


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
    if ctx.invoked_subcommand not in _LOADS_CAMPAIGN:
        _start_up_done()


@app.command()
def validate(
    targets: TargetsOpt = Path("targets.yaml"),
    from_: FromOpt = None,
    country: CountryOpt = None,
    lang: LangOpt = None,
    config: ConfigOpt = None,
    all_: Annotated[
        bool, typer.Option("--all", help="List every target (the table shows the first 100).")
    ] = False,
) -> None:
    """Check the campaign file and render every letter for you, sending nothing."""
    from protest_dispatch.cli.views import send as views
    from protest_dispatch.commands.session import prepare

    session = _ready(
        prepare(
            targets=targets,
            config_path=config,
            from_=from_,
            country=country,
            lang=lang,
            dry_run=True,
        )
    )
    views.validation(session, letters=session.composer.check_all(), show_all=all_)


@app.command()
def send(
    targets: TargetsOpt = Path("targets.yaml"),
    only: OnlyOpt = None,
    country: CountryOpt = None,
    lang: LangOpt = None,
    from_: FromOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show every letter and call, send nothing.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="DIR",
            help="With --dry-run: also write each letter as DIR/<target-id>.eml.",
        ),
    ] = None,
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Send without asking (needed when not on a terminal)."),
    ] = False,
    test: Annotated[
        bool,
        typer.Option(
            "--test", help="Send every letter to yourself only, subject [TEST]; not recorded."
        ),
    ] = False,
    note: NoteOpt = None,
    note_file: NoteFileOpt = None,
    copy_me: Annotated[
        bool | None,
        typer.Option(
            "--copy-me/--no-copy-me",
            help="Bcc yourself a copy of each letter as a receipt.",
            show_default=False,
        ),
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency", metavar="K", min=1, max=32, help="SMTP connections used at once."
        ),
    ] = 2,
    rate: Annotated[
        float,
        typer.Option(
            "--rate",
            metavar="N",
            min=0,
            help="Letters per minute across all connections (0: no cap).",
        ),
    ] = 20,
    limit: Annotated[
        int | None,
        typer.Option("--limit", metavar="N", min=0, help="Send at most N letters in this run."),
    ] = None,
    attempts: Annotated[
        int,
        typer.Option(
            "--attempts",
            metavar="N",
            min=1,
            max=10,
            help="Tries per letter in this run on temporary errors.",
        ),
    ] = 3,
    retry_failed: Annotated[
        bool,
        typer.Option(
            "--retry-failed", help="Also resend letters an earlier run recorded as failed."
        ),
    ] = False,
    retry_uncertain: Annotated[
        bool,
        typer.Option(
            "--retry-uncertain",
            help="Also resend letters whose delivery is uncertain (the server may have them).",
        ),
    ] = False,
    retry_bounced: Annotated[
        bool,
        typer.Option(
            "--retry-bounced",
            help="Send only the letters whose address bounced, to the same address again.",
        ),
    ] = False,
    log: LogOpt = None,
    smtp_host: SmtpHostOpt = None,
    smtp_port: SmtpPortOpt = None,
    smtp_security: SmtpSecurityOpt = None,
    smtp_ca_file: SmtpCaFileOpt = None,
    smtp_auth: SmtpAuthOpt = None,
    config: ConfigOpt = None,
    json_: Annotated[
        bool, typer.Option("--json", help="Print a machine-readable summary instead of tables.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Say more.")] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only what needs attention (for cron).")
    ] = False,
) -> None:
    """Send the campaign's letters (preview first with --dry-run)."""
    from protest_dispatch.cli.views import send as views
    from protest_dispatch.commands.session import prepare, read_note

    if out is not None and not dry_run:
        raise InputError("--out only goes with --dry-run.")
    if dry_run and test:
        raise InputError("--dry-run and --test do not go together: --test sends mail.")
    session = _ready(
        prepare(
            targets=targets,
            config_path=config,
            from_=from_,
            country=country,
            lang=lang,
            only=only or (),
            note=read_note(note=note, note_file=note_file),
            copy_me=copy_me,
            dry_run=dry_run,
        )
    )
    if dry_run:
        from protest_dispatch.settings.smtp import check_smtp_options

        check_smtp_options(
            session.config,
            host=smtp_host,
            port=smtp_port,
            security=smtp_security,
            ca_file=smtp_ca_file,
        )
        views.dry_run(session, out=out)
        return
    from protest_dispatch.commands.send import SendRequest

    request = SendRequest(
        test=test,
        concurrency=concurrency,
        rate=rate,
        limit=limit,
        attempts=attempts,
        retry_failed=retry_failed,
        retry_uncertain=retry_uncertain,
        retry_bounced=retry_bounced,
        log=log,
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        smtp_security=smtp_security,
        smtp_ca_file=smtp_ca_file,
        smtp_auth=smtp_auth,
    )
    display = views.Display(json=json_, verbose=verbose, quiet=quiet)
    raise typer.Exit(_send(session=session, request=request, display=display, yes=yes))


def _send(*, session: Session, request: SendRequest, display: Display, yes: bool) -> int:
    """Plan, show, confirm, deliver with progress, and account: the run as a person sees it."""
    import sys

    from protest_dispatch.cli.views import send as views
    from protest_dispatch.commands.send import exit_code, open_send

    with open_send(session=session, request=request) as run:
        if not display.json:
            views.send_plan(
                session, plan=run.plan, settings=run.settings, test=request.test, display=display
            )
        if run.plan.jobs and not yes:
            if not sys.stdin.isatty():
                raise InputError(
                    "Not sending: there is no terminal to confirm on.",
                    hint="Preview with 'protest send --dry-run', then add --yes to send "
                    "without asking (for cron).",
                )
            answer = views.confirm(session, plan=run.plan, test=request.test)
            if answer != views.Answer.YES:
                views.cancelled()
                return ExitCode.INTERRUPTED if answer == views.Answer.INTERRUPTED else ExitCode.OK
        # SIGTERM (kill, a shutdown) stops a run as Ctrl-C does: the letters in flight
        # are accounted for and the summary printed, instead of rows left 'sending'.
        with views.SendProgress(total=len(run.plan.jobs), display=display) as progress:
            summary = run.deliver(on_result=progress.update, stop_on=(signal.SIGTERM,))
    code = exit_code(run=run, summary=summary)
    views.send_summary(
        session, plan=run.plan, summary=summary, test=request.test, display=display, code=code
    )
    return code


@app.command("log")
def log_(
    campaign: Annotated[
        str | None, typer.Option("--campaign", help="Only this campaign id.")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="Only letters with this status: sending, sent, deferred, failed, uncertain.",
        ),
    ] = None,
    json_: Annotated[
        bool, typer.Option("--json", help="Print the rows as one JSON array.")
    ] = False,
    csv_: Annotated[bool, typer.Option("--csv", help="Print the rows as CSV.")] = False,
    log: LogOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Show what happened to each letter (and call), from the send log."""
    from protest_dispatch.cli.views import log as views
    from protest_dispatch.commands.log import read_log
    from protest_dispatch.settings.config import Config

    if json_ and csv_:
        raise InputError("Choose one of --json and --csv.")
    report = read_log(log=log, config=Config.load(path=config), campaign=campaign, status=status)
    fmt = "json" if json_ else "csv" if csv_ else "table"
    views.show(report, campaign=campaign, status=status, fmt=fmt)


# -- set-up, calls and status (issue 6) ---------------------------------------------


@app.command()
def init(
    config: ConfigOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing config file without asking.")
    ] = False,
) -> None:
    """Set up in a minute: who you are and how to send mail (writes the config file)."""
    from protest_dispatch.cli import wizard
    from protest_dispatch.cli.views import setup as setupviews
    from protest_dispatch.settings.config import config_path
    from protest_dispatch.settings.writer import config_values, dump_toml, header, write_config

    path = config_path(config)
    if path.exists() and not force and not wizard.confirm_replace(path):
        setupviews.keep_existing(path)
        return
    answers = wizard.ask(config_path=path)
    text = dump_toml(config_values(answers), comment=header(answers))
    setupviews.written(path=write_config(path=path, text=text, replace=True), answers=answers)


@app.command()
def doctor(
    from_: FromOpt = None,
    config: ConfigOpt = None,
    log: LogOpt = None,
    smtp_host: SmtpHostOpt = None,
    smtp_port: SmtpPortOpt = None,
    smtp_security: SmtpSecurityOpt = None,
    smtp_ca_file: SmtpCaFileOpt = None,
    smtp_auth: SmtpAuthOpt = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, max=120, help="Seconds to wait for each step.")
    ] = 10.0,
) -> None:
    """Check the settings and the way to your mail server (DNS, TLS, login), sending nothing."""
    from protest_dispatch.cli.views import setup as setupviews
    from protest_dispatch.commands.doctor import DoctorRequest, run

    report = run(
        request=DoctorRequest(
            config_path=config,
            from_=from_,
            log=log,
            smtp_host=smtp_host,
            smtp_port=smtp_port,
            smtp_security=smtp_security,
            smtp_ca_file=smtp_ca_file,
            smtp_auth=smtp_auth,
            timeout=timeout,
        )
    )
    setupviews.doctor(report)
    raise typer.Exit(report.exit_code)


@app.command()
def login(
    store: Annotated[
        TokenStore,
        typer.Option(
            "--store",
            help="Keep the refresh token in the system keyring (default) or in a file "
            "only you can read, in your data folder.",
        ),
    ] = TokenStore.KEYRING,
    config: ConfigOpt = None,
) -> None:
    """Sign in to your mail provider with OAuth2 (for smtp_auth = "xoauth2"); interactive."""
    from protest_dispatch.cli.views import oauth as views
    from protest_dispatch.commands.login import LoginRequest, Prompts
    from protest_dispatch.commands.login import login as sign_in

    result = sign_in(
        request=LoginRequest(config_path=config, store=store),
        prompts=Prompts(device_code=views.device_code, browser_url=views.browser_url),
    )
    views.signed_in(result)


@app.command()
def logout(config: ConfigOpt = None) -> None:
    """Remove the sign-in that 'protest login' stored."""
    from protest_dispatch.cli.views import oauth as views
    from protest_dispatch.commands.login import LoginRequest
    from protest_dispatch.commands.login import logout as sign_out

    views.signed_out(sign_out(request=LoginRequest(config_path=config)))


@app.command()
def calls(
    targets: TargetsOpt = Path("targets.yaml"),
    only: OnlyOpt = None,
    country: CountryOpt = None,
    lang: LangOpt = None,
    from_: FromOpt = None,
    all_: Annotated[
        bool,
        typer.Option(
            "--all", help="Also targets already reached, and letter targets with a phone number."
        ),
    ] = False,
    log: LogOpt = None,
    config: ConfigOpt = None,
) -> None:
    """The call sheet: whom to phone, the time there, what to say, and how it went so far."""
    from protest_dispatch.cli.views import calls as callviews
    from protest_dispatch.commands import calls as callsheet
    from protest_dispatch.commands.session import existing_log, prepare

    session = _ready(
        prepare(
            targets=targets,
            config_path=config,
            from_=from_,
            country=country,
            lang=lang,
            only=only or (),
            dry_run=True,
        )
    )
    with existing_log(log=log, config=session.config) as (_, sendlog):
        sheet = callsheet.build(session=session, log=sendlog, all_phones=all_)
    callviews.sheet(sheet, placeholder=session.placeholder)


@app.command()
def called(
    target_id: Annotated[str, typer.Argument(metavar="ID", help="The target's id.")],
    outcome: Annotated[CallOutcome, typer.Option("--outcome", help="How the call went.")],
    note: Annotated[
        str | None, typer.Option("--note", help="What they said, whom you spoke to.")
    ] = None,
    targets: TargetsOpt = Path("targets.yaml"),
    from_: FromOpt = None,
    country: CountryOpt = None,
    log: LogOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Record a call you made; a target stays on the call sheet until it is reached."""
    from protest_dispatch.cli.views import calls as views
    from protest_dispatch.commands.calls import record_call
    from protest_dispatch.commands.session import log_path, prepare

    session = _ready(
        prepare(
            targets=targets,
            config_path=config,
            from_=from_,
            country=country,
            lang=None,
            dry_run=True,
        )
    )
    recorded = record_call(
        session=session,
        log_path=log_path(log=log, config=session.config),
        target_id=target_id,
        outcome=outcome,
        note=note,
    )
    views.recorded(call=recorded.call, target=recorded.target, left=recorded.left)


@app.command()
def status(
    campaign: Annotated[
        str | None, typer.Option("--campaign", help="Only this campaign id.")
    ] = None,
    targets: Annotated[
        Path | None,
        typer.Option(
            "--targets",
            "-t",
            help="The campaign file, to count letters not sent "
            "yet and calls to make [default: targets.yaml here, if there is one].",
        ),
    ] = None,
    from_: FromOpt = None,
    country: CountryOpt = None,
    log: LogOpt = None,
    config: ConfigOpt = None,
    bounced: Annotated[
        bool,
        typer.Option(
            "--bounced",
            help="Only the bounced addresses to fix, with the reason, as text to paste.",
        ),
    ] = False,
) -> None:
    """Each campaign at a glance: sent, deferred, failed, uncertain, calls, and replies."""
    from protest_dispatch.cli.views import calls as callviews
    from protest_dispatch.commands.status import gather

    report = gather(
        config_path=config,
        targets=targets,
        campaign=campaign,
        from_=from_,
        country=country,
        log=log,
    )
    if bounced:
        callviews.bounced_summary(report)
    else:
        callviews.status(report)


# -- what came of each letter (issue 13) ---------------------------------------------


@app.command()
def inbox(
    campaign: CampaignOpt = None,
    folder: Annotated[
        list[str] | None,
        typer.Option(
            "--folder",
            metavar="NAME",
            help="Read this folder (repeat for more) [default: INBOX and the \\Junk folder].",
            show_default=False,
        ),
    ] = None,
    log: LogOpt = None,
    config: ConfigOpt = None,
    json_: Annotated[
        bool, typer.Option("--json", help="Print what is new as JSON, for scripts.")
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Print only what needs attention (for cron)."),
    ] = False,
) -> None:
    """Read your mailbox (read-only) for bounces, automatic replies and replies to letters."""
    from protest_dispatch.cli.views import inbox as views
    from protest_dispatch.commands.inbox import InboxRequest, run

    report = run(
        InboxRequest(campaign=campaign, folders=tuple(folder or ()), log=log, config_path=config)
    )
    views.inbox(report, as_json=json_, quiet=quiet)


@app.command()
def replies(
    campaign: CampaignOpt = None,
    show: Annotated[
        int | None,
        typer.Option("--show", metavar="N", min=1, help="Print the text of reply number N."),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the replies as JSON.")] = False,
    log: LogOpt = None,
    config: ConfigOpt = None,
) -> None:
    """List the officials' replies found by 'protest inbox' (numbered), or show one."""
    from protest_dispatch.cli.views import inbox as views
    from protest_dispatch.commands.replies import numbered_replies, one_reply

    if show is not None:
        views.reply(show, one_reply(config_path=config, log=log, number=show))
        return
    views.replies(numbered_replies(config_path=config, log=log, campaign=campaign), as_json=json_)


@app.command()
def followup(
    campaign: CampaignOpt = None,
    log: LogOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Ask, for letters sent 14+ days ago with no reply found, whether the official replied."""
    import sys
    from datetime import UTC, datetime

    from protest_dispatch.cli.views import inbox as views
    from protest_dispatch.commands.replies import open_followup, record_answer, unanswered

    now = datetime.now(UTC)
    with open_followup(config_path=config, log=log) as (sendlog, _):
        items = [] if sendlog is None else unanswered(sendlog, campaign=campaign, now=now)
        asking = bool(items) and sys.stdin.isatty()
        views.followup_list(items, asking=asking)
        if not asking or sendlog is None:
            return
        recorded = skipped = 0
        for item in items:
            choice = views.ask_followup(item)
            if choice == "s":
                skipped += 1
                continue
            record_answer(sendlog, item, replied=choice == "y", now=datetime.now(UTC))
            recorded += 1
        views.followup_recorded(recorded, skipped)


def main() -> None:
    # Start-up (imports, option parsing, loading the campaign) makes objects that live
    # until exit; collecting them again and again cost ~40 ms of a 0.4 s start. So the
    # cyclic GC is paused until the command has loaded its campaign (_ready); commands
    # that load none resume it at once (_root).
    gc.disable()
    try:
        app(prog_name="protest")  # also under python -m: completion and usage say protest
    finally:
        # The last collections at exit would walk every object only to free memory the
        # OS takes back anyway (~45 ms). Files, the send log and atexit still close.
        gc.freeze()


_LOADS_CAMPAIGN = frozenset({"validate", "send", "calls", "called"})
"""Commands that keep the GC paused until their campaign is loaded (see main)."""


def _ready(session: Session) -> Session:
    """The command's campaign is loaded: start-up ends and the GC resumes here."""
    _start_up_done()
    return session


def _start_up_done() -> None:
    """Resume the GC that main() paused, freezing first what start-up made.

    Called once a command has loaded its campaign; later collections skip the frozen
    objects. Where main() did not pause the GC (tests, other callers) nothing changes.
    """
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
