"""``log``, ``calls``, ``called`` and ``status``: what the send log knows."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from protest_dispatch.cli.options import (
    CampaignOpt,
    ConfigOpt,
    CountryOpt,
    FromOpt,
    LangOpt,
    LogOpt,
    OnlyOpt,
    TargetsOpt,
)
from protest_dispatch.cli.startup import ready as _ready
from protest_dispatch.errors import InputError
from protest_dispatch.vocabulary import CallOutcome

if TYPE_CHECKING:
    pass


def log_(
    campaign: CampaignOpt = None,
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


def calls(
    ctx: typer.Context,
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
    from protest_dispatch.commands.log_access import existing_log
    from protest_dispatch.commands.session import prepare

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
    from protest_dispatch.cli import clock, timing
    from protest_dispatch.commands.send import phase

    moment = clock.now(ctx)
    state = phase(session=session, now=moment)
    if state.closed is not None:
        timing.not_open(session, phase=state, json=False, quiet=False)
        return
    with existing_log(log=log, config=session.config) as (_, sendlog):
        sheet = callsheet.build(session=session, log=sendlog, all_phones=all_, now=moment)
    callviews.sheet(sheet, placeholder=session.placeholder)


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
    from protest_dispatch.commands.log_access import log_path
    from protest_dispatch.commands.session import prepare

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


def posted(
    target_id: Annotated[str, typer.Argument(metavar="ID", help="The target's id.")],
    date_: Annotated[
        str | None,
        typer.Option(
            "--date",
            metavar="YYYY-MM-DD",
            help="The day you posted it [default: today, in UTC].",
            show_default=False,
        ),
    ] = None,
    again: Annotated[
        bool,
        typer.Option("--again", help="Record it even if you recorded posting it before."),
    ] = False,
    targets: TargetsOpt = Path("targets.yaml"),
    from_: FromOpt = None,
    country: CountryOpt = None,
    log: LogOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Record that you posted the printed letter to ID (see 'protest print')."""
    import sys
    from datetime import UTC, date, datetime

    from protest_dispatch.cli.views import print as views
    from protest_dispatch.commands.log_access import log_path
    from protest_dispatch.commands.print import posting, record_posted
    from protest_dispatch.commands.session import prepare

    today = datetime.now(UTC).date()
    try:
        posted_on = today if date_ is None else date.fromisoformat(date_)
    except ValueError:
        raise InputError(
            f"--date {date_!r} is not a date.", hint="Write it as YYYY-MM-DD, like 2011-09-21."
        ) from None
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
    path = log_path(log=log, config=session.config)
    found = posting(session=session, log_path=path, target_id=target_id)
    if found.earlier and not again:
        if not sys.stdin.isatty():
            raise InputError(
                f"You recorded posting the letter to {target_id} on "
                f"{found.earlier[-1].posted_on} already.",
                hint="Add --again to record that you posted it once more.",
            )
        if not views.confirm_again(target=found.target, earlier=found.earlier):
            views.not_recorded()
            return
    recorded = record_posted(
        session=session, log_path=path, target=found.target, posted_on=posted_on, today=today
    )
    views.recorded_post(recorded)


def status(
    campaign: CampaignOpt = None,
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
    json_: Annotated[
        bool, typer.Option("--json", help="Print the counts and lists as one JSON object.")
    ] = False,
) -> None:
    """Each campaign at a glance: sent, deferred, failed, uncertain, calls, and replies."""
    from protest_dispatch.cli.views import status as views
    from protest_dispatch.commands.status import gather

    report = gather(
        config_path=config,
        targets=targets,
        campaign=campaign,
        from_=from_,
        country=country,
        log=log,
    )
    if bounced and json_:
        raise InputError("Choose one of --bounced and --json: --json lists the bounces too.")
    if bounced:
        views.bounced_summary(report)
    elif json_:
        views.status_json(report)
    else:
        views.status(report)
