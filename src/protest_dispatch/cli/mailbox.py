"""``inbox``, ``replies`` and ``followup``: what came of each letter."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from protest_dispatch.cli.options import (
    CampaignOpt,
    ConfigOpt,
    LogOpt,
    ProxyOpt,
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
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Print only what needs attention (for cron)."),
    ] = False,
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
    log: LogOpt = None,
    config: ConfigOpt = None,
) -> None:
    """List the officials' replies found by 'protest inbox' (numbered), or show one."""
    from protest_dispatch.cli.views import replies as views
    from protest_dispatch.commands.replies import numbered_replies, one_reply

    if show is not None:
        views.reply(show, one_reply(config_path=config, log=log, number=show))
        return
    views.replies(numbered_replies(config_path=config, log=log, campaign=campaign), as_json=json_)


def followup(
    campaign: CampaignOpt = None,
    log: LogOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Ask, for letters sent 14+ days ago with no reply found, whether the official replied."""
    from datetime import UTC, datetime

    from protest_dispatch.cli.views import replies as views
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
