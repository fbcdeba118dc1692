"""``protest cron``: the crontab line and the systemd timer for a campaign. Changes nothing.

The protest that is running now is the one to schedule (its absolute path, or this
Python with ``-m protest_dispatch``), with the campaign's folder as an absolute
path. No ``flock``: ``send`` holds its own lock per send log, and a second run
meanwhile exits 75 ("try later"). Each sender's minute comes from the same kind
of hash as the variants, so cron jobs that were copied from one page do not all
start at :00.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from protest_dispatch.campaign.choice import pick
from protest_dispatch.commands.session import Session
from protest_dispatch.errors import InputError
from protest_dispatch.text import ANY_CONTROL, visible

EVERY_MINUTES = 30


@dataclass(frozen=True)
class CronSetup:
    campaign: str
    folder: Path
    minute: int
    crontab: str
    service_name: str
    service: str
    timer: str


def protest_command() -> list[str]:
    """How to start the protest that runs now, by absolute paths."""
    launched = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if launched is not None and launched.name == "protest" and launched.is_file():
        return [os.path.abspath(launched)]
    return [os.path.abspath(sys.executable), "-m", "protest_dispatch"]


def cron_setup(*, session: Session, command: list[str] | None = None) -> CronSetup:
    path = session.loaded.path.resolve()
    folder = path.parent
    where = folder if path.name == "targets.yaml" else path
    argv = command or protest_command()
    for part in (*argv, str(where)):
        if ANY_CONTROL.search(part) or visible(part) != part:
            raise InputError(
                f"The path {visible(part)!r} has a control or invisible character in it, "
                "which a crontab line cannot hold safely.",
                hint="Move the campaign (or protest) to a folder whose name has none.",
            )
    campaign = session.campaign_id
    minute = pick(
        campaign=campaign,
        sender="" if session.placeholder else session.sender.email,
        target="",
        key="cron",
        count=EVERY_MINUTES,
    )
    send = [*argv, "send", "-t", str(where), "--yes", "-q"]
    inbox = [*argv, "inbox", "-q"]
    crontab = (
        f"{minute},{minute + EVERY_MINUTES} * * * * "
        f"{_cron_text(shlex.join(send))}; {_cron_text(shlex.join(inbox))}"
    )
    name = f"protest-{campaign}"
    service = "\n".join(
        [
            "[Unit]",
            f"Description=protest: send the letters of campaign {campaign}",
            "",
            "[Service]",
            "Type=oneshot",
            f"ExecStart={_unit_command(send)}",
            f"ExecStart={_unit_command(inbox)}",
            "# 75 is 'try later' (deferred, limit reached, locked): the next run handles it",
            "SuccessExitStatus=75",
            "",
        ]
    )
    timer = "\n".join(
        [
            "[Unit]",
            f"Description=Run {name} every {EVERY_MINUTES} minutes",
            "",
            "[Timer]",
            f"OnCalendar=*:{minute:02d}/{EVERY_MINUTES}",
            "Persistent=true",
            "",
            "[Install]",
            "WantedBy=timers.target",
            "",
        ]
    )
    return CronSetup(
        campaign=campaign,
        folder=folder,
        minute=minute,
        crontab=crontab,
        service_name=name,
        service=service,
        timer=timer,
    )


def _cron_text(command: str) -> str:
    """cron turns an unescaped '%' into a line break (crontab(5))."""
    return command.replace("%", "\\%")


def _unit_command(argv: list[str]) -> str:
    """systemd's quoting: double quotes, and '%' and '$' doubled (systemd.service(5))."""
    quoted = []
    for part in argv:
        text = part.replace("%", "%%").replace("$", "$$")
        if any(c in text for c in " \t\"\\'"):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        quoted.append(text)
    return " ".join(quoted)
