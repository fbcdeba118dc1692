"""``inbox``, ``replies`` and ``followup``: what came of each letter."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from protest_dispatch.cli.options import (
    CampaignFileOpt,
    CampaignOpt,
    ConfigOpt,
    LogOpt,
    ProxyOpt,
    QuietOpt,
)

if TYPE_CHECKING:
    pass


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
    proxy: ProxyOpt = None,
    config: ConfigOpt = None,
    json_: Annotated[
        bool, typer.Option("--json", help="Print what is new as JSON, for scripts.")
    ] = False,
    quiet: QuietOpt = False,
) -> None:
    """Read your mailbox (read-only) for bounces, automatic replies and replies to letters."""
    from protest_dispatch.cli.views import inbox as views
    from protest_dispatch.commands.inbox import InboxRequest, run

    report = run(
        InboxRequest(
            campaign=campaign,
            folders=tuple(folder or ()),
            log=log,
            config_path=config,
            proxy=proxy,
        )
    )
    views.inbox(report, as_json=json_, quiet=quiet)


def replies(
    campaign: CampaignOpt = None,
    show: Annotated[
        int | None,
        typer.Option("--show", metavar="N", min=1, help="Print the text of reply number N."),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the replies as JSON.")] = False,
    targets: CampaignFileOpt = None,
    log: LogOpt = None,
    config: ConfigOpt = None,
) -> None:
    """List the officials' replies found by 'protest inbox' (numbered), or show one."""
    from protest_dispatch.cli.views import replies as views
    from protest_dispatch.commands.people import Names, campaign_names
    from protest_dispatch.commands.replies import numbered_replies, one_reply

    names = Names() if json_ else campaign_names(targets=targets)
    if show is not None:
        views.reply(show, one_reply(config_path=config, log=log, number=show), names=names)
        return
    views.replies(
        numbered_replies(config_path=config, log=log, campaign=campaign),
        as_json=json_,
        names=names,
    )


def followup(
    ctx: typer.Context,
    campaign: CampaignOpt = None,
    targets: CampaignFileOpt = None,
    log: LogOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Ask, for letters sent 14+ days ago (posted 21+) with no reply found, whether the
    official replied."""
    from datetime import UTC, datetime

    from protest_dispatch.cli import clock, timing
    from protest_dispatch.cli.views import replies as views
    from protest_dispatch.commands.people import campaign_names
    from protest_dispatch.commands.replies import (
        first_due,
        open_followup,
        record_answer,
        unanswered,
    )

    now = clock.now(ctx)
    if timing.said_closed(targets=targets, now=now):
        return
    names = campaign_names(targets=targets)
    with open_followup(config_path=config, log=log, write=False) as (sendlog, _):
        items = [] if sendlog is None else unanswered(sendlog, campaign=campaign, now=now)
        upcoming = (
            None if sendlog is None or items else first_due(sendlog, campaign=campaign, now=now)
        )
    if not items:
        views.nothing_due(upcoming, names=names)
        return
    asking = sys.stdin.isatty()
    views.followup_list(items, asking=asking, names=names)
    if not asking:
        return  # a listing only: the log was opened read-only and is left as it was
    with open_followup(config_path=config, log=log, write=True) as (sendlog, _):
        if sendlog is None:
            return
        recorded = skipped = 0
        for item in items:
            choice = views.ask_followup(item, names=names)
            if choice == "s":
                skipped += 1
                continue
            record_answer(sendlog, item, replied=choice == "y", now=datetime.now(UTC))
            recorded += 1
        views.followup_recorded(recorded, skipped)
