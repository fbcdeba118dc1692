"""Naive mail-merge baseline: what simple tools do, for comparison with ``protest send``.

One fresh ``smtplib`` connection per letter, strictly one letter at a time, so every letter
pays the greeting, EHLO and QUIT round trips on top of MAIL, RCPT x4, DATA and end of data.
It renders the same templates for the same recipients as protest, so both send the same work.

Usage: ``python benchmarks/baseline.py -t DIR/targets.yaml --port 2525``
(sender from ``--sender`` or PROTEST_FROM; the host is always 127.0.0.1).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import smtplib
import sys
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any

import jinja2
import yaml

LOOPBACK = "127.0.0.1"
DEFAULT_SENDER = "Bench Sender <bench@example.org>"


def load_campaign(path: Path) -> dict[str, Any]:
    """Read targets.yaml; the benchmark campaign is trusted, generated input."""
    with path.open(encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.safe_load(fh)
    return data


def make_environment(letters: Path) -> jinja2.Environment:
    """StrictUndefined like protest, so a template typo fails instead of sending blanks."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(letters),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )


def build_message(
    *, env: jinja2.Environment, campaign: dict[str, Any], target: dict[str, Any], sender: str
) -> EmailMessage:
    """One letter with the same recipients, headers and body size as protest sends."""
    name, address = parseaddr(sender)
    info = campaign["campaign"]
    context = {
        "target": target,
        "sender": {"name": name, "email": address, "country": None, "note": None},
        "campaign": {"id": info["id"], "title": info.get("title"), "subject": info["subject"]},
        "today": dt.date.today(),
    }
    message = EmailMessage()
    message["From"] = Address(display_name=name, addr_spec=address)
    message["To"] = target["email"]
    message["Cc"] = ", ".join(target.get("cc", []))
    message["Subject"] = env.from_string(info["subject"]).render(context)
    message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    message["Message-ID"] = make_msgid(domain="example.org")  # domain: no getfqdn() per letter
    message.set_content(env.get_template(target["template"]).render(context))
    return message


def send_one(*, message: EmailMessage, port: int) -> None:
    """Open, send, quit: one connection per letter, as simple mail-merge tools do."""
    with smtplib.SMTP(LOOPBACK, port, local_hostname="bench.localhost", timeout=60) as smtp:
        smtp.send_message(message)


def run(*, targets_path: Path, port: int, sender: str) -> int:
    """Send every letter in order; returns how many were sent."""
    campaign = load_campaign(targets_path)
    env = make_environment(targets_path.parent / "letters")
    sent = 0
    for target in campaign["targets"]:
        send_one(
            message=build_message(env=env, campaign=campaign, target=target, sender=sender),
            port=port,
        )
        sent += 1
    return sent


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-t", "--targets", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True, help="SMTP port on 127.0.0.1")
    parser.add_argument("--sender", default=os.environ.get("PROTEST_FROM", DEFAULT_SENDER))
    args = parser.parse_args(argv)
    sent = run(targets_path=args.targets, port=args.port, sender=args.sender)
    print(f"baseline: sent {sent} letters", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
