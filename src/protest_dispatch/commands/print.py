"""``protest print``'s course: the letters to post, as PDF files, from the email's very text.

Every letter is composed by the same ``Composer.text`` that email uses, so the
paper and the email say the same thing. All letters are rendered and checked
(sender address, every character drawable) before the first file is written, so
bad input leaves nothing behind; each file is then written whole or not at all,
readable only by its owner, replacing a planted symlink instead of following it.
Printing records nothing in the send log: ``protest posted`` does, once the letter
is in the post (it lives here, as the other half of ``print``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from protest_dispatch.campaign.audience import Selected, select
from protest_dispatch.campaign.compose import raise_problems
from protest_dispatch.campaign.model import Target
from protest_dispatch.commands.session import Session
from protest_dispatch.errors import CampaignError, InputError, NoSenderError, PrintError, Problem
from protest_dispatch.files import make_private_folder, write_private
from protest_dispatch.paper.document import PaperLetter
from protest_dispatch.paper.typeset import Typesetter, check_glyphs
from protest_dispatch.sendlog.posts import PostLog
from protest_dispatch.sendlog.records import Post
from protest_dispatch.sendlog.store import SendLog
from protest_dispatch.vocabulary import LetterStatus, PaperSize

DEFAULT_FOLDER = Path("letters-to-print")
LETTER_COUNTRIES = frozenset({"US", "CA", "MX", "PH", "CL", "CO"})
"""Where US letter paper is the norm; everywhere else prints on A4."""


def default_paper(country: str | None) -> PaperSize:
    return PaperSize.LETTER if country in LETTER_COUNTRIES else PaperSize.A4


@dataclass(frozen=True)
class Printed:
    files: tuple[Path, ...]
    targets: tuple[str, ...]
    paper: PaperSize
    one: bool


def to_print(session: Session, *, only: Sequence[str] = ()) -> tuple[Selected, ...]:
    """The letters this sender prints; a target named with ``--only`` must have an address."""
    audience = session.composer.audience
    chosen = {s.target.id for s in audience.paper}
    for selected in (*audience.letters, *audience.calls):
        target = selected.target
        if target.id in only and target.id not in chosen:
            why = "no postal address" if target.postal_address is None else "no letter template"
            raise InputError(
                f"The target {target.id} has {why}, so its letter cannot be printed.",
                hint="Add 'postal_address' (and 'template') to the target in the campaign "
                "file, with the address's source.",
            )
    for target in (*audience.other_countries, *audience.needs_country):
        if target.id in only:
            raise InputError(
                f"The target {target.id} is only for senders in {target.country}, so its "
                "letter is not yours to print.",
                hint="If you live there, say so with --country or PROTEST_COUNTRY.",
            )
    return audience.paper


def compose(session: Session, selected: Sequence[Selected]) -> list[PaperLetter]:
    """Every letter rendered and checked, or every problem at once."""
    sender = session.sender
    if not sender.postal_address:
        raise PrintError(
            "Your postal address is not set, and an anonymous letter is not taken seriously.",
            hint='Set it with --postal-address "1 Example Street\\nLondon", '
            "PROTEST_POSTAL_ADDRESS, 'postal_address' in the config file, or 'protest init'.",
        )
    date = session.composer.renderer.today.long
    problems: list[Problem] = []
    letters: list[PaperLetter] = []
    for item in selected:
        target = item.target
        assert target.postal_address is not None, "only targets with an address are chosen"
        try:
            rendered = session.composer.text(item)
        except CampaignError as exc:
            problems.extend(exc.problems)
            continue
        letter = PaperLetter(
            target_id=target.id,
            sender_name=sender.name,
            sender_address=tuple(sender.postal_address.split("\n")),
            date=date,
            recipient=(
                target.name,
                *((target.role,) if target.role else ()),
                *target.postal_address.split("\n"),
            ),
            subject=rendered.subject,
            text=rendered.text,
            markdown=rendered.markdown,
            enclosures=tuple(a.filename for a in session.loaded.attachments_for(target)),
        )
        check_glyphs(letter)
        letters.append(letter)
    raise_problems(problems)
    return letters


def print_letters(
    *,
    session: Session,
    only: Sequence[str] = (),
    out: Path | None = None,
    one: Path | None = None,
    paper: PaperSize | None = None,
) -> Printed:
    """Write one PDF per letter into ``out`` (or all in ``one``); nothing on bad input."""
    chosen = paper or default_paper(session.sender.country)
    letters = compose(session, to_print(session, only=only))
    if not letters:
        return Printed(files=(), targets=(), paper=chosen, one=one is not None)
    folder = (one.parent if one is not None else out or DEFAULT_FOLDER) or Path(".")
    _writable(folder)
    files: list[Path] = []
    with Typesetter(paper=chosen) as typesetter:
        if one is not None:
            _write(one, typesetter.pdf(letters))
            files.append(one)
        else:
            for letter in letters:
                path = folder / f"{letter.target_id}.pdf"
                _write(path, typesetter.pdf([letter]))
                files.append(path)
    return Printed(
        files=tuple(files),
        targets=tuple(letter.target_id for letter in letters),
        paper=chosen,
        one=one is not None,
    )


def _writable(folder: Path) -> None:
    """Create the folder (only you may enter it: it names whom you wrote to), or say why not."""
    try:
        make_private_folder(folder)
    except OSError as exc:
        raise InputError(
            f"Cannot create the folder {folder}: {exc.strerror or exc}.",
            hint="Choose a folder you can write to with --out (or a file with --one).",
        ) from None
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(
            f"Cannot write to {folder}: it is not a folder you can write to.",
            hint="Choose a folder you can write to with --out (or a file with --one).",
        )


def _write(path: Path, data: bytes) -> None:
    try:
        write_private(path, data, sync=False)  # cheap to make again: see write_private
    except OSError as exc:
        raise InputError(
            f"Cannot write {path}: {exc.strerror or exc}.",
            hint="Choose a folder you can write to with --out (or a file with --one).",
        ) from None


# -- posted: the other half of print -------------------------------------------------


@dataclass(frozen=True)
class Posting:
    """A letter to record as posted, and the times it was recorded before."""

    target: Target
    earlier: tuple[Post, ...]


@dataclass(frozen=True)
class Posted:
    post: Post
    target: Target
    left: int
    """Letters to print that this sender has not posted yet, after this one."""
    emailed_at: str | None = None
    """When the letter also went by email (ISO 8601 UTC), if it did."""


def posting(*, session: Session, log_path: Path, target_id: str) -> Posting:
    """The target whose letter is to be recorded as posted, and its earlier records."""
    if session.placeholder:
        raise NoSenderError(so="the letter cannot be recorded as posted")
    target = _postable(session, target_id)
    with SendLog.open(path=log_path) as sendlog:
        earlier = PostLog(sendlog).all(
            campaign=session.campaign_id, target=target.id, sender=session.sender.email
        )
    return Posting(target=target, earlier=tuple(earlier))


def record_posted(
    *, session: Session, log_path: Path, target: Target, posted_on: date, today: date
) -> Posted:
    """Record that the sender posted the letter to ``target`` on ``posted_on``."""
    if posted_on > today + timedelta(days=1):  # a day's grace: the sender's zone may be ahead
        raise InputError(
            f"--date {posted_on.isoformat()} is in the future.",
            hint="Record a letter once it is in the post, with the day it went.",
        )
    with SendLog.open(path=log_path) as sendlog:
        posts = PostLog(sendlog)
        post = posts.record(
            campaign=session.campaign_id,
            target=target.id,
            sender=session.sender.email,
            posted_on=posted_on,
        )
        done = {p.target for p in posts.all(campaign=session.campaign_id, sender=post.sender)}
        entry = sendlog.get(campaign=session.campaign_id, target=target.id, sender=post.sender)
    left = sum(1 for s in session.composer.audience.paper if s.target.id not in done)
    emailed = entry.updated_at if entry is not None and entry.status == LetterStatus.SENT else None
    return Posted(post=post, target=target, left=left, emailed_at=emailed)


def _postable(session: Session, target_id: str) -> Target:
    """A target of this sender with a letter on paper (email targets too: they may be printed)."""
    campaign = session.loaded.campaign
    target = next((t for t in campaign.targets if t.id == target_id), None)
    if target is None:
        raise InputError(
            f"'{target_id}' is not a target of campaign {session.campaign_id}.",
            hint=f"Letters to print: {_ids(session) or 'none'}.",
        )
    paper = select(campaign=campaign, country=session.sender.country, only=[target_id]).paper
    if not paper:
        why = (
            f"only for senders in {target.country}"
            if target.has_paper_letter
            else "without a postal address and a letter, so it has no letter to post"
        )
        raise InputError(
            f"The target '{target_id}' is {why}.",
            hint=f"Letters to print: {_ids(session) or 'none'}.",
        )
    return target


def _ids(session: Session) -> str:
    return ", ".join(s.target.id for s in session.composer.audience.paper)
