"""The dry run: each letter as it would go, the calls to make, and nothing sent."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from protest_dispatch.campaign.compose import CallToMake, raise_problems
from protest_dispatch.campaign.message import Letter
from protest_dispatch.cli import output, own
from protest_dispatch.cli.views.send.notices import notices
from protest_dispatch.errors import Problem

if TYPE_CHECKING:
    from protest_dispatch.commands.session import Session


def dry_run(session: Session, *, out: Path | None, json: bool = False) -> None:
    """Every letter as it would go; with ``json`` one JSON document on stdout instead,
    while the warnings stay on stderr as in a dry run for a person."""
    from protest_dispatch.commands.preview import letters

    total = len(session.composer.audience.letters)
    problems: list[Problem] = []
    shares = []
    edited = []
    documents: list[dict[str, Any]] = []
    for number, letter in enumerate(letters(session=session, out=out, problems=problems), 1):
        shares.append((letter.target.id, letter.rendered.own))
        edited.append((letter.target.id, letter.rendered.edited))
        if json:
            documents.append(letter_json(letter))
            continue
        source = "your version" if letter.rendered.edited else letter.rendered.template
        output.rule(
            f"Letter {number} of {total}: {letter.target.id} ({source}), "
            f"your own: {own.share(letter.rendered.own)}"
        )
        output.headers_and_body(letter_headers(letter), letter.rendered.text)
    to_make = session.composer.checked_calls(problems)
    if not json:
        calls(to_make)
    raise_problems(problems)
    notices(session)
    own.warn_changed(edited)
    own.warn_own_words(session, shares)
    own.warn_low(shares)
    written = f" and wrote {total} .eml file(s) to {out}" if out is not None else ""
    done = (
        f"Dry run: nothing was sent. {total} letter(s) and "
        f"{len(session.composer.audience.calls)} call(s) "
        f"{'listed' if json else 'shown'}{written}."
    )
    if not json:
        output.info(done)
        return
    output.print_json(
        {
            "campaign": session.campaign_id,
            "sender": session.sender.email,
            "dry_run": True,
            "letters": documents,
            "calls": [
                {
                    "target": c.target.id,
                    "name": c.target.name,
                    "phone": c.target.phone,
                    "script": c.script,
                }
                for c in to_make
            ],
        }
    )
    output.say(done)


def letter_json(letter: Letter) -> dict[str, Any]:
    """One letter for a machine: where it goes, what it says, how much is the sender's."""
    rendered = letter.rendered
    return {
        **own.as_json(letter.target.id, rendered.own),
        "name": letter.target.name,
        "to": letter.to,
        "cc": list(letter.cc),
        "bcc": list(letter.bcc),
        "reply_to": letter.reply_to,
        "subject": letter.subject,
        "template": None if rendered.edited else rendered.template,
        "your_version": rendered.edited is not None,
        "attachments": [
            {"filename": a.filename, "size": a.size, "sha256": a.sha256} for a in letter.attachments
        ],
        "text": rendered.text,
    }


def letter_headers(letter: Letter) -> list[tuple[str, str]]:
    headers = [
        ("From", f"{letter.sender.name} <{letter.sender.email}>"),
        ("To", f"{letter.to_name} <{letter.to}>"),
    ]
    if letter.cc:
        headers.append(("Cc", ", ".join(letter.cc)))
    if letter.bcc:
        headers.append(("Bcc (your copy, not shown to others)", ", ".join(letter.bcc)))
    if letter.reply_to:
        headers.append(("Reply-To", letter.reply_to))
    headers.append(("Subject", letter.subject))
    if letter.attachments:
        headers.append(
            (
                "Attachments",
                ", ".join(f"{a.filename} ({size_text(a.size)})" for a in letter.attachments),
            )
        )
    return headers


def size_text(octets: int) -> str:
    """1,234 bytes, 12.3 KB or 1.2 MB: a file's size at a glance."""
    if octets < 1000:
        return f"{octets:,} bytes"
    if octets < 1_000_000:
        return f"{octets / 1000:.1f} KB"
    return f"{octets / 1_000_000:.1f} MB"


def calls(to_make: Sequence[CallToMake]) -> None:
    if not to_make:
        return
    output.rule(f"Calls to make ({len(to_make)})")
    for call in to_make:
        target = call.target
        who = f"{target.name}" + (f", {target.role}" if target.role else "")
        output.headers_and_body([("Call", who), ("Phone", target.phone or "")], call.script)
