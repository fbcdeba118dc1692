"""How ``calls`` and ``called`` look, built on ``output``."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar
from zoneinfo import ZoneInfo

from protest_dispatch.cli import output
from protest_dispatch.errors import SET_SENDER_HINT
from protest_dispatch.vocabulary import CallOutcome

if TYPE_CHECKING:
    from protest_dispatch.campaign.model import Target
    from protest_dispatch.commands.calls import Office, Sheet, SheetRow
    from protest_dispatch.sendlog.store import Call

_Row = TypeVar("_Row")

RECORD_HINT = (
    f'Record each call: protest called <id> --outcome {"|".join(CallOutcome)} [--note "..."]'
)


def _describe(call: Call) -> str:
    note = f" ({call.note})" if call.note else ""
    return f"{call.outcome}, {output.when(call.at)} UTC{note}"


def _local(row: SheetRow) -> str:
    if row.local is None:
        return "unknown (set 'timezone' on the target, e.g. Europe/London)"
    now = row.local.now
    offset = now.strftime("%z")
    return f"{now:%a %H:%M} ({row.local.zone}, UTC{offset[:3]}:{offset[3:]})"


def _office(office: Office) -> str:
    if office.open_now:
        return f"{office.hours} ({office.zone}): open now"
    if office.opens_at is None:
        return f"{office.hours} ({office.zone})"
    local = office.opens_at.astimezone(ZoneInfo(office.zone))
    return f"{office.hours} ({office.zone}): opens {local:%a %H:%M}"


def sheet(result: Sheet, *, placeholder: bool) -> None:
    if placeholder:
        output.warn(f"No sender is configured, so the scripts say 'Your Name'. {SET_SENDER_HINT}")
    if not result.rows:
        done = (
            f" All {result.hidden_reached} have been reached; see them with --all."
            if result.hidden_reached
            else ""
        )
        output.info(f"No calls to make for campaign {result.campaign}.{done}")
        return
    output.rule(f"Calls for campaign {result.campaign}: {result.to_make} to make")
    for row in result.rows:
        target = row.target
        who = target.name + (f", {target.role}" if target.role else "")
        lines = [
            ("Call", who),
            ("Id", target.id),
            ("Phone", target.phone or ""),
            ("Local time", _local(row)),
        ]
        if row.office is not None:
            lines.append(("Office hours", _office(row.office)))
        if row.reached and row.last is not None:
            lines.append(("Done", f"reached, {output.when(row.last.at)} UTC"))
        elif row.last is not None:
            lines.append(("Last call", f"{_describe(row.last)}; {len(row.calls)} call(s) so far"))
        else:
            lines.append(("Last call", "not called yet"))
        output.headers_and_body(lines, row.script)
    if result.hidden_reached:
        output.say(
            f"{result.hidden_reached} target(s) already reached are not shown (--all shows them)."
        )
    output.say(RECORD_HINT)


def recorded(*, call: Call, target: Target, left: int) -> None:
    output.info(
        f"Recorded: {target.id} ({target.name}): {call.outcome} at {output.when(call.at)} UTC."
    )
    if call.outcome != CallOutcome.REACHED:
        output.say("The call stays on your call sheet until you reach someone.")
    output.say(
        f"{left} call(s) left to make for campaign {call.campaign}."
        if left
        else f"No calls left to make for campaign {call.campaign}."
    )
