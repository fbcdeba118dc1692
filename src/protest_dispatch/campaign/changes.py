"""What changed between the campaign an activist has and a new copy of it.

Compared as data, field by field, so fields added to the model later (dates,
postal addresses) are compared too. Where a letter goes (To, copies, phone,
postal address, the campaign's copies and Reply-To) is an address change, which
the activist must confirm; letters are compared word by word. A signature gained is
shown and applied; a signature dropped is asked about like an address, since an
unsigned copy is one nobody can vouch for.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from protest_dispatch.campaign.loading import LoadedCampaign
from protest_dispatch.campaign.manifest import read_files
from protest_dispatch.campaign.signing import is_signed

ADDRESS_FIELDS = frozenset({"email", "cc", "phone", "fax", "postal_address", "reply_to", "address"})
"""Fields that decide where a letter or call goes: a change needs the activist's yes."""
SIGNATURE = "signature"
"""The pseudo-field for the copy's signature: "signed" or "unsigned"."""
_WORDS = re.compile(r"(\s+)")


@dataclass(frozen=True)
class FieldChange:
    target: str | None
    """The target's id, or None for the campaign's own fields."""
    field: str
    old: str
    new: str

    @property
    def address(self) -> bool:
        return self.field in ADDRESS_FIELDS or self.field == "id"

    @property
    def unsigning(self) -> bool:
        return self.target is None and self.field == SIGNATURE and self.new == "unsigned"


@dataclass(frozen=True)
class FileChange:
    name: str
    """Relative path in the campaign folder."""
    diff: tuple[str, ...]
    """Changed lines, words marked git-style: [-removed-]{+added+}; empty for binary files."""
    state: str
    """'added', 'removed' or 'changed'."""


@dataclass(frozen=True)
class Changes:
    added: tuple[tuple[str, str], ...] = ()
    """(id, name) of each new target."""
    removed: tuple[tuple[str, str], ...] = ()
    fields: tuple[FieldChange, ...] = ()
    files: tuple[FileChange, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.fields or self.files)

    @property
    def addresses(self) -> tuple[FieldChange, ...]:
        return tuple(f for f in self.fields if f.address)

    @property
    def needs_confirmation(self) -> bool:
        """Where letters go changes, or the signature goes: a person says yes (or --yes)."""
        return bool(self.addresses or self.added or any(f.unsigning for f in self.fields))


def compare(old: LoadedCampaign, new: LoadedCampaign) -> Changes:
    before = {t.id: t for t in old.campaign.targets}
    after = {t.id: t for t in new.campaign.targets}
    fields = list(
        _fields(None, old.campaign.campaign.model_dump(), new.campaign.campaign.model_dump())
    )
    for target_id in before.keys() & after.keys():
        fields += _fields(target_id, before[target_id].model_dump(), after[target_id].model_dump())
    signed = [is_signed(old.path.parent), is_signed(new.path.parent)]
    if signed[0] != signed[1]:
        old_state, new_state = ("signed" if s else "unsigned" for s in signed)
        fields.append(FieldChange(None, SIGNATURE, old_state, new_state))
    fields.sort(key=lambda f: (f.target or "", f.field))
    return Changes(
        added=tuple((i, after[i].name) for i in after if i not in before),
        removed=tuple((i, before[i].name) for i in before if i not in after),
        fields=tuple(fields),
        files=tuple(_files(old.path.parent, new.path.parent)),
    )


def _fields(target: str | None, old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    return [
        FieldChange(target, key, _text(old.get(key)), _text(new.get(key)))
        for key in sorted(old.keys() | new.keys())
        if old.get(key) != new.get(key)
    ]


def _text(value: Any) -> str:
    if value is None or value == ():
        return "(none)"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _files(old: Path, new: Path) -> list[FileChange]:
    """Letters, call scripts and attachments (targets.yaml is compared as data above)."""
    skip = {"targets.yaml", "targets.schema.json"}
    before = {n for n in read_files(old) if n not in skip}
    after = {n for n in read_files(new) if n not in skip}
    changes = []
    for name in sorted(before | after):
        if name not in after:
            changes.append(FileChange(name, (), "removed"))
        elif name not in before:
            changes.append(FileChange(name, _diff(b"", (new / name).read_bytes()), "added"))
        else:
            old_bytes, new_bytes = (old / name).read_bytes(), (new / name).read_bytes()
            if hashlib.sha256(old_bytes).digest() != hashlib.sha256(new_bytes).digest():
                changes.append(FileChange(name, _diff(old_bytes, new_bytes), "changed"))
    return changes


def _diff(old: bytes, new: bytes) -> tuple[str, ...]:
    try:
        before, after = old.decode("utf-8"), new.decode("utf-8")
    except UnicodeDecodeError:
        return ()
    words_before, words_after = _WORDS.split(before), _WORDS.split(after)
    segments: list[tuple[str, str]] = []  # (text, "=" | "-" | "+")
    matcher = difflib.SequenceMatcher(None, words_before, words_after, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            segments.append(("".join(words_before[i1:i2]), "="))
            continue
        segments.append(("".join(words_before[i1:i2]), "-"))
        segments.append(("".join(words_after[j1:j2]), "+"))
    lines: list[str] = []
    line, changed = "", False
    for text, kind in segments:
        for number, piece in enumerate(text.split("\n")):
            if number:
                if changed:
                    lines.append(line)
                line, changed = "", False
            if piece and kind != "=":
                line += f"[-{piece}-]" if kind == "-" else f"{{+{piece}+}}"
                changed = True
            else:
                line += piece
    if changed:
        lines.append(line)
    return tuple(lines)
