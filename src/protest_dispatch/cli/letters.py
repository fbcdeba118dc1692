"""``validate`` and ``send``: the campaign's letters, previewed, checked and sent."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from protest_dispatch.cli.options import (
    ConfigOpt,
    CountryOpt,
    FromOpt,
    LangOpt,
    LogOpt,
    NoteFileOpt,
    NoteOpt,
    OnlyOpt,
    ProxyOpt,
    SmtpAuthOpt,
    SmtpCaFileOpt,
    SmtpHostOpt,
    SmtpPortOpt,
    SmtpSecurityOpt,
    TargetsOpt,
)
from protest_dispatch.cli.startup import ready as _ready
from protest_dispatch.errors import InputError
from protest_dispatch.vocabulary import ExitCode

if TYPE_CHECKING:
    from protest_dispatch.cli.views.send import Display
    from protest_dispatch.commands.send import SendRequest
    from protest_dispatch.commands.session import Session


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
    proxy: ProxyOpt = None,
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
            proxy=proxy,
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
