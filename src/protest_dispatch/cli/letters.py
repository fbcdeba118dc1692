"""``validate``, ``send`` and ``print``: the campaign's letters checked, sent or printed."""

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
    PostalAddressOpt,
    ProxyOpt,
    QuietOpt,
    SmtpAuthOpt,
    SmtpCaFileOpt,
    SmtpHostOpt,
    SmtpPortOpt,
    SmtpSecurityOpt,
    TargetsOpt,
    env_help,
)
from protest_dispatch.cli.startup import ready as _ready
from protest_dispatch.delivery.options import SendOptions
from protest_dispatch.errors import InputError
from protest_dispatch.vocabulary import ExitCode, PaperSize

if TYPE_CHECKING:
    from protest_dispatch.cli.views.send.run import Display
    from protest_dispatch.commands.send import SendRequest
    from protest_dispatch.commands.session import Session


def validate(
    targets: TargetsOpt = Path("targets.yaml"),
    from_: FromOpt = None,
    country: CountryOpt = None,
    lang: LangOpt = None,
    config: ConfigOpt = None,
    all_: Annotated[
        bool,
        typer.Option(
            "--all",
            help="List every target and placeholder address (the table shows the first 100 "
            "targets, the warnings the first 20 placeholders).",
        ),
    ] = False,
    check_domains: Annotated[
        bool,
        typer.Option(
            "--check-domains",
            help="Ask DNS whether every address's domain accepts mail (MX, A or AAAA).",
        ),
    ] = False,
    dns_server: Annotated[
        str | None,
        typer.Option(
            "--dns-server",
            metavar="HOST[:PORT]",
            help=env_help(
                "The DNS resolver for --check-domains [default: the system's; with a "
                "proxy, required, and asked over TCP through it].",
                "PROTEST_DNS_SERVER",
            ),
        ),
    ] = None,
    proxy: ProxyOpt = None,
) -> None:
    """Check the campaign file and render every letter for you, sending nothing."""
    from protest_dispatch.cli.views import validate as views
    from protest_dispatch.commands.session import prepare

    session = _ready(
        prepare(
            targets=targets,
            config_path=config,
            proxy=proxy,
            from_=from_,
            country=country,
            lang=lang,
            dry_run=True,
        )
    )
    letters = session.composer.check_all(every_variant=True)
    domains = None
    if check_domains:
        from protest_dispatch.commands.domains import check_session_domains

        domains = check_session_domains(session=session, dns_server=dns_server)
    views.validation(
        session,
        letters=letters,
        paper=session.composer.check_paper(),
        show_all=all_,
        domains=domains,
    )
    if domains is not None and domains.errors:
        from protest_dispatch.errors import CampaignError

        raise CampaignError(
            domains.errors,
            hint="Mail to these addresses cannot arrive: check each with its source.",
        )


def send(
    ctx: typer.Context,
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
    ] = SendOptions.concurrency,
    rate: Annotated[
        float,
        typer.Option(
            "--rate",
            metavar="N",
            min=0,
            help="Letters per minute across all connections (0: no cap).",
        ),
    ] = SendOptions.rate,
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
    ] = SendOptions.attempts,
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
    quiet: QuietOpt = False,
    now: Annotated[
        bool,
        typer.Option(
            "--now",
            help="Also send the letters waiting for their officials' office hours or spread.",
        ),
    ] = False,
) -> None:
    """Send the campaign's letters (preview first with --dry-run)."""
    from protest_dispatch.cli import clock
    from protest_dispatch.commands.session import prepare, read_note
    from protest_dispatch.settings.smtp import SmtpOverrides

    smtp = SmtpOverrides(
        host=smtp_host, port=smtp_port, security=smtp_security, ca_file=smtp_ca_file, auth=smtp_auth
    )

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
            render_seconds=clock.render_seconds(ctx),
        )
    )
    if dry_run:
        from protest_dispatch.cli.views.send.preview import dry_run as show_dry_run
        from protest_dispatch.settings.smtp import check_smtp_options

        check_smtp_options(session.config, given=smtp)
        show_dry_run(session, out=out, json=json_)
        return
    from protest_dispatch.cli import timing
    from protest_dispatch.commands.send import SendRequest, phase

    moment = clock.now(ctx)
    if not test:
        state = phase(session=session, now=moment)
        if not state.sending:
            timing.not_open(session, phase=state, json=json_, quiet=quiet)
            raise typer.Exit(ExitCode.OK)
    request = SendRequest(
        options=SendOptions(concurrency=concurrency, rate=rate, attempts=attempts, test=test),
        limit=limit,
        retry_failed=retry_failed,
        retry_uncertain=retry_uncertain,
        retry_bounced=retry_bounced,
        log=log,
        smtp=smtp,
        now=moment,
        outside_hours=now,
    )
    from protest_dispatch.cli.views.send.run import Display

    display = Display(json=json_, verbose=verbose, quiet=quiet)
    raise typer.Exit(_send(session=session, request=request, display=display, yes=yes))


def _send(*, session: Session, request: SendRequest, display: Display, yes: bool) -> int:
    """Plan, show, confirm, deliver with progress, and account: the run as a person sees it."""

    from protest_dispatch.cli.views.send import plan as planview
    from protest_dispatch.cli.views.send import run as runview
    from protest_dispatch.commands.send import exit_code, open_send

    with open_send(session=session, request=request) as run:
        if not display.json:
            planview.send_plan(
                session,
                plan=run.plan,
                settings=run.settings,
                test=request.test,
                display=display,
                checked=run.checked,
            )
        if run.plan.jobs and not yes:
            if not sys.stdin.isatty():
                raise InputError(
                    "Not sending: there is no terminal to confirm on.",
                    hint="Preview with 'protest send --dry-run', then add --yes to send "
                    "without asking (for cron).",
                )
            answer = planview.confirm(session, plan=run.plan, test=request.test)
            if answer != planview.Answer.YES:
                planview.cancelled()
                return (
                    ExitCode.INTERRUPTED if answer == planview.Answer.INTERRUPTED else ExitCode.OK
                )
        # SIGTERM (kill, a shutdown) stops a run as Ctrl-C does: the letters in flight
        # are accounted for and the summary printed, instead of rows left 'sending'.
        with runview.SendProgress(total=len(run.plan.jobs), display=display) as progress:
            summary = run.deliver(on_result=progress.update, stop_on=(signal.SIGTERM,))
    code = exit_code(run=run, summary=summary)
    runview.send_summary(
        session,
        plan=run.plan,
        summary=summary,
        test=request.test,
        display=display,
        code=code,
        checked=run.checked,
    )
    return code


def cron(
    targets: TargetsOpt = Path("targets.yaml"),
    from_: FromOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Print a crontab line and a systemd timer that send this campaign; changes nothing."""
    from protest_dispatch.cli.views import cron as views
    from protest_dispatch.commands.cron import cron_setup
    from protest_dispatch.commands.session import prepare

    session = _ready(
        prepare(
            targets=targets,
            config_path=config,
            from_=from_,
            country=None,
            lang=None,
            dry_run=True,
        )
    )
    views.show(cron_setup(session=session))


def edit(
    target_id: Annotated[str, typer.Argument(metavar="ID", help="The target's id.")],
    targets: TargetsOpt = Path("targets.yaml"),
    lang: LangOpt = None,
    from_: FromOpt = None,
    country: CountryOpt = None,
    config: ConfigOpt = None,
    reset: Annotated[
        bool, typer.Option("--reset", help="Remove your version: the campaign's letter again.")
    ] = False,
) -> None:
    """Write your own version of the letter to target ID, in $VISUAL or $EDITOR."""
    import os
    import subprocess
    from datetime import UTC, datetime

    from protest_dispatch.cli.views import edit as views
    from protest_dispatch.commands.edit import editor_command, finish_edit, reset_edit, start_edit
    from protest_dispatch.commands.session import prepare
    from protest_dispatch.vocabulary import EditOutcome

    session = _ready(
        prepare(
            targets=targets,
            config_path=config,
            from_=from_,
            country=country,
            lang=lang,
            dry_run=False,
        )
    )
    if reset:
        existed = reset_edit(session=session, target_id=target_id)
        store = session.composer.edits
        assert store is not None, "prepare() always gives the composer an edit store"
        views.reset(target_id, existed=existed, path=store.path(target_id))
        return
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise InputError(
            "'protest edit' needs a terminal to run your editor in.",
            hint="Run it in a terminal window; to write your own words without one, use "
            "'protest send --note-file PATH'.",
        )
    editor = editor_command(os.environ)
    plan = start_edit(session=session, target_id=target_id)
    views.opening(plan, editor)
    files = [str(plan.draft), *([str(plan.campaign_copy)] if plan.campaign_copy else [])]
    try:
        status = subprocess.run([*editor, *files], check=False).returncode  # noqa: S603 - an argument list, no shell: the editor the user chose
    except OSError as exc:
        plan.draft.unlink(missing_ok=True)
        raise InputError(
            f"Cannot start the editor {editor[0]!r}: {exc.strerror}.",
            hint="Set VISUAL or EDITOR to an editor that is installed, like EDITOR=nano.",
        ) from None
    outcome = finish_edit(plan=plan, editor_status=status, now=datetime.now(UTC))
    views.finished(plan, outcome, status=status)
    if outcome is EditOutcome.EDITOR_FAILED:
        raise typer.Exit(ExitCode.FAILED)


def print_(
    targets: TargetsOpt = Path("targets.yaml"),
    only: OnlyOpt = None,
    lang: LangOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="DIR",
            help="Write each letter as DIR/<target-id>.pdf [default: letters-to-print].",
        ),
    ] = None,
    one: Annotated[
        Path | None,
        typer.Option("--one", metavar="FILE.pdf", help="Write every letter into this one PDF."),
    ] = None,
    paper: Annotated[
        PaperSize | None,
        typer.Option(
            "--paper",
            case_sensitive=False,
            help="a4 or letter [default: letter in US, CA, MX, PH, CL and CO, a4 elsewhere].",
            show_default=False,
        ),
    ] = None,
    from_: FromOpt = None,
    country: CountryOpt = None,
    postal_address: PostalAddressOpt = None,
    note: NoteOpt = None,
    note_file: NoteFileOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write the letters to post as PDF files, ready to print, sign and send."""
    from protest_dispatch.cli.views import print as views
    from protest_dispatch.commands.print import print_letters
    from protest_dispatch.commands.session import prepare, read_note
    from protest_dispatch.errors import NoSenderError

    if out is not None and one is not None:
        raise InputError("Choose one of --out (a file per letter) and --one (one file).")
    session = _ready(
        prepare(
            targets=targets,
            config_path=config,
            from_=from_,
            country=country,
            lang=lang,
            only=only or (),
            note=read_note(note=note, note_file=note_file),
            postal_address=postal_address,
            dry_run=True,
        )
    )
    if session.placeholder:
        raise NoSenderError(so="no letter can be printed")
    views.printed(
        session, print_letters(session=session, only=only or (), out=out, one=one, paper=paper)
    )
