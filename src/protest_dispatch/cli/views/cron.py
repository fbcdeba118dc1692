"""How ``protest cron`` looks: lines to copy, printed exactly as they must be written."""

from __future__ import annotations

from typing import TYPE_CHECKING

from protest_dispatch.cli import output

if TYPE_CHECKING:
    from protest_dispatch.commands.cron import CronSetup

EXPLAINED = """\
Where the output goes: cron mails whatever a job prints to the crontab's owner
(your local mailbox, or MAILTO=you@example.org at the top of the crontab if this
machine can send mail); without a mail system it is thrown away, so append
'>> ~/protest-cron.log 2>&1' to keep it. With -q a run prints only what needs
you. systemd keeps it in the journal: journalctl --user -u {name}.

Exit codes: 0 done, or nothing to do (letters waiting for office hours, a campaign
not yet open, ended or closed); 75 try later (deferred, limit reached, server
unreachable, another run holds the lock: the next run handles it); 1 a person is
needed (a letter failed or is uncertain, login or certificate refused); 2 the
settings or the campaign file are wrong. protest locks the send log itself, so
no flock is needed. 'protest status' shows where things stand.
"""


def show(setup: CronSetup) -> None:
    """Raw lines (never wrapped at 80 columns: a wrapped crontab line is a broken one)."""
    name = setup.service_name
    output.print_raw(
        f"# crontab -e: campaign {setup.campaign}, every 30 minutes from minute "
        f"{setup.minute}\n"
        f"{setup.crontab}\n"
        "\n"
        f"# or a systemd user timer: ~/.config/systemd/user/{name}.service\n"
        f"{setup.service}\n"
        f"# ~/.config/systemd/user/{name}.timer\n"
        f"{setup.timer}\n"
        f"# then: systemctl --user daemon-reload && systemctl --user enable --now {name}.timer\n"
        "\n"
        + "".join(
            f"# {line}\n" if line else "#\n" for line in EXPLAINED.format(name=name).splitlines()
        )
    )
