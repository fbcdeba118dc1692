"""``protest new``: a campaign folder to start from, every address a placeholder.

Nothing here may look like a real official's address: every target is at
``example.org`` (RFC 2606), so a scaffold sent by mistake reaches nobody, and
``validate`` warns about each placeholder until the organiser replaces it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from protest_dispatch.campaign.attachments import FOLDER as ATTACHMENTS
from protest_dispatch.campaign.schema import MODELINE, SCHEMA_FILE, schema_text
from protest_dispatch.errors import InputError

TARGETS = f"""{MODELINE}
#
# A protest campaign for `protest` (https://pypi.org/project/protest-dispatch/).
# Every address below is a PLACEHOLDER at example.org: replace each with the
# official's real address, and write where you found it in a comment beside it.
# `protest validate` warns about every placeholder still here.
#
# Your editor checks this file against targets.schema.json when it speaks the YAML
# language server (VS Code's YAML extension, Neovim, Emacs lsp-mode).

campaign:
  id: my-campaign            # lower-case letters, digits and '-'; never change it later
  title: "Free the defendants: write to the court"
  subject: "Drop the charges against the defendants"
  # cc: [copies@example.org]      # PLACEHOLDER: a copy of every letter goes here
  # reply_to: replies@example.org # PLACEHOLDER: where officials' replies go
  # public_key: RW...             # from `protest keygen`; then `protest sign`
  # update_url: https://example.org/my-campaign.tar.gz  # where you publish it
  # attachments: [appeal.pdf]     # files in attachments/ that go with every letter
  #
  # Mail filters drop identical letters: vary the text with {{% choose %}} in the
  # letter, and ask each sender for words of their own (--note, `protest edit`).
  # own_words: 15                # refuse to send a letter with fewer of the sender's words
  #
  # When letters go (all optional; times are the target's own, in its timezone):
  # timezone: Europe/London       # default for targets that set none
  # office_hours: "09:00-17:00 Mon-Fri"
  # send_window: office_hours     # letters wait for their target's office hours
  # spread: 3h                    # cron jobs that start together arrive over 3 hours
  # starts: 2027-01-10            # nothing goes before this day (UTC)
  # ends: 2027-02-28              # nothing goes after this day (UTC)
  # closed: "The charges were dropped. Thank you for writing."  # ends it for everyone

targets:
  # 1. A letter by email.
  - id: ministry
    name: "Ministry of Justice"
    role: "Minister of Justice"
    email: minister@example.org   # PLACEHOLDER. Source: <where it was published>
    template: letter.md.j2
    timezone: Europe/London
    # postal_address: |           # for letters on paper (protest print); PLACEHOLDER
    #   Ministry of Justice
    #   1 Example Street
    #   London SW1A 0AA

  # 2. A phone call: a target with a phone and no email is on the call sheet.
  - id: court
    name: "President of the Supreme Court"
    phone: "+44 20 7946 0000"     # PLACEHOLDER (a drama number). Source: <...>
    call_script: call.txt.j2
    timezone: Europe/London
    office_hours: "Mon-Fri 09:00-17:00"

  # 3. The embassy in the sender's own country: `country` sends this letter only
  #    to senders there. Copy the block for each country; quote the code
  #    (YAML reads a bare NO, Norway, as false).
  - id: embassy-gb
    name: "Embassy in the United Kingdom"
    email: embassy-gb@example.org # PLACEHOLDER. Source: <...>
    country: GB
    template: letter.md.j2
"""

LETTER = """{# Say what happened, to whom, and what you ask for, in a few short paragraphs.
   Every fact should come from the campaign's published appeal.

   {% choose %}...{% or %}...{% endchoose %} gives each sender one of its
   alternatives (always the same one for the same sender and official), so the
   letters do not read as copies; an empty alternative leaves the sentence out. #}
Dear {{ target.name }},

{% choose %}I am writing to ask{% or %}I write to urge{% or %}I ask{% endchoose %} you to drop \
the charges against the defendants.

{% if sender.note %}
{{ sender.note }}

{% endif %}
{% choose %}
I will follow this case closely and would welcome your reply.

{% or %}
I will keep following this case, and I look forward to your reply.

{% or %}
{% endchoose %}
Yours sincerely,

{{ sender.name }}{% if sender.country %}, {{ sender.country }}{% endif %}
"""

CALL = """Hello. My name is {{ sender.name }}. I am calling about the defendants.

I ask {{ target.name }} to drop the charges against them. Thank you.
"""

README = """# My campaign

Letters and calls to the officials in `targets.yaml`, sent from your own mailbox
with [protest](https://pypi.org/project/protest-dispatch/).

1. Install: `python3 -m pip install protest-dispatch`, then `protest init` once
   (your name, address, country and mail provider).
2. Preview every letter, sending nothing: `protest send --dry-run`
3. Send, after a last confirmation: `protest send`
4. The calls to make: `protest calls`; record one with
   `protest called ID --outcome reached`.
5. Schedule it: `protest cron` prints the crontab line (or a systemd timer) for
   this folder. Letters wait for your provider's limits; nothing goes twice.

Write a few sentences of your own: officials' mail filters drop identical
letters. `protest send --note "..."` adds them to every letter, and
`protest edit ID` lets you rewrite one letter in your own words.

Check with `protest status` what went out and what came back (`protest inbox`).
If the organiser publishes updates, `protest get` fetches them and shows what
changed before anything is replaced.
"""


@dataclass(frozen=True)
class Scaffold:
    folder: Path
    files: tuple[Path, ...]


def scaffold(*, folder: Path) -> Scaffold:
    """Write a new campaign into ``folder``, which must be missing or empty."""
    if folder.exists() and not folder.is_dir():
        raise InputError(
            f"{folder} is a file, not a folder.", hint="Name a new folder: protest new DIR"
        )
    if folder.is_dir() and any(folder.iterdir()):
        raise InputError(
            f"{folder} is not empty; protest new writes only into a new or empty folder, "
            "so nothing of yours is overwritten.",
            hint="Name a new folder: protest new DIR",
        )
    files = {
        "targets.yaml": TARGETS,
        SCHEMA_FILE: schema_text(),
        "letters/letter.md.j2": LETTER,
        "letters/call.txt.j2": CALL,
        "README.md": README,
    }
    written: list[Path] = []
    try:
        (folder / "letters").mkdir(parents=True, exist_ok=True)
        (folder / ATTACHMENTS).mkdir()
        for name, text in files.items():
            path = folder / name
            # O_EXCL: a file that appeared meanwhile is never overwritten.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            written.append(path)
    except OSError as exc:
        raise InputError(f"Cannot write the new campaign into {folder}: {exc}.") from None
    return Scaffold(folder=folder, files=tuple(written))
