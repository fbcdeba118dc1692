"""Read a campaign file into the model, with every problem located by line.

Campaign files travel between organisers and activists, so they are untrusted:
only YAML's plain data types are built (no tags, so nothing is ever executed),
anchors may not multiply the document ("billion laughs"), duplicate keys are
errors instead of silently winning, and every validation error is reported at
once with its file, line, target and field.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .errors import CampaignError, InputError, Problem
from .model import Campaign, CampaignInfo, Target

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_VALUES = 500_000
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class LoadedCampaign:
    """A valid campaign plus where things are, for messages about it later."""

    campaign: Campaign
    path: Path
    letters_dir: Path
    lines: dict[Path_, int] = field(repr=False)

    def target_line(self, index: int) -> int | None:
        return self.lines.get(("targets", index))


def resolve_campaign_path(path: Path) -> Path:
    """Accept the campaign folder as well as its targets.yaml."""
    return path / "targets.yaml" if path.is_dir() else path


def load_campaign(*, path: Path) -> LoadedCampaign:
    path = resolve_campaign_path(path)
    text = _read_text(path)
    data, lines = _parse(path, text)
    campaign = _validate(path, data, lines)
    return LoadedCampaign(
        campaign=campaign, path=path, letters_dir=path.parent / "letters", lines=lines
    )


def _read_text(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise InputError(
            f"There is no campaign file at {path}.",
            hint="Run protest in the campaign's folder, or name the file with -t PATH.",
        ) from None
    except OSError as exc:
        raise InputError(f"Cannot read the campaign file {path}: {exc.strerror}.") from None
    if len(raw) > MAX_FILE_BYTES:
        raise _single(path, f"the file is larger than {MAX_FILE_BYTES // 2**20} MiB")
    if b"\x00" in raw:
        raise _single(path, "this is not a text file (it contains NUL bytes)",
                      line=raw[: raw.index(b"\x00")].count(b"\n") + 1)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _single(
            path,
            f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8",
            line=raw[: exc.start].count(b"\n") + 1,
        ) from None


def _single(path: Path, message: str, *, line: int | None = None) -> CampaignError:
    return CampaignError([Problem(file=path, message=message, line=line)])


def _parse(path: Path, text: str) -> tuple[Any, dict[Path_, int]]:
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        raise _single(
            path, f"this is not valid YAML: {what}", line=mark.line + 1 if mark else None
        ) from None
    except yaml.YAMLError as exc:
        raise _single(path, f"this is not valid YAML: {exc}") from None
    if node is None:
        raise _single(path, "the file is empty; it needs a 'campaign' and a list of 'targets'")
    if not isinstance(node, yaml.MappingNode):
        raise _single(
            path,
            "the file must be a mapping with 'campaign' and 'targets' at the top, "
            "not a list or a single value",
            line=node.start_mark.line + 1,
        )
    builder = _Builder(path)
    data = builder.build(node, ())
    if builder.problems:
        raise CampaignError(builder.problems)
    return data, builder.lines


class _Builder:
    """Turns composed nodes into plain data, recording lines, refusing tricks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: dict[Path_, int] = {}
        self.problems: list[Problem] = []
        self.values = 0
        self.active: set[int] = set()
        self.constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, where: Path_) -> Any:
        self.values += 1
        if self.values > MAX_VALUES:
            raise _single(
                self.path,
                f"the file expands to more than {MAX_VALUES:,} values; YAML anchors and "
                "aliases seem to be used to multiply it (a 'billion laughs' file)",
                line=node.start_mark.line + 1,
            )
        if id(node) in self.active:
            raise _single(self.path, "an alias refers to itself", line=node.start_mark.line + 1)
        self.lines.setdefault(where, node.start_mark.line + 1)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ_TAG:
                return [self.build(item, (*where, i)) for i, item in enumerate(node.value)]
            if isinstance(node, yaml.MappingNode) and node.tag == _MAP_TAG:
                return self._mapping(node, where)
            raise _tag_error(self.path, node)
        finally:
            self.active.discard(id(node))

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        try:
            return self.constructor.construct_object(node)
        except yaml.constructor.ConstructorError:
            raise _tag_error(self.path, node) from None

    def _mapping(self, node: yaml.MappingNode, where: Path_) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problems.append(Problem(file=self.path, line=line,
                                             message="'<<' merge keys are not supported"))
                continue
            key = self.build(key_node, (*where, "<key>"))
            if not isinstance(key, str):
                self.problems.append(Problem(file=self.path, line=line,
                                             message=f"the key {key!r} must be a word"))
                continue
            if key in result:
                self.problems.append(Problem(
                    file=self.path, line=line, field=key,
                    message=f"'{key}' appears twice here; keep one"))
                continue
            self.lines[(*where, key)] = line
            result[key] = self.build(value_node, (*where, key))
        return result


def _tag_error(path: Path, node: yaml.Node) -> CampaignError:
    return _single(
        path,
        f"the YAML tag '{node.tag}' is not allowed: campaign files hold plain text, "
        "numbers, lists and mappings only",
        line=node.start_mark.line + 1,
    )


def _validate(path: Path, data: dict[str, Any], lines: dict[Path_, int]) -> Campaign:
    try:
        campaign = Campaign.model_validate(data)
    except ValidationError as exc:
        raise CampaignError(list(_problems(path, data, lines, exc))) from None
    problems = list(_duplicate_ids(path, campaign, lines))
    if problems:
        raise CampaignError(problems)
    return campaign


def _duplicate_ids(path: Path, campaign: Campaign, lines: dict[Path_, int]) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for index, target in enumerate(campaign.targets):
        if target.id in seen:
            first = lines.get(("targets", seen[target.id]))
            yield Problem(
                file=path, line=lines.get(("targets", index, "id")), target=target.id, field="id",
                message=f"the id '{target.id}' is already used by the target on line {first}; "
                "every target needs its own id",
            )
        else:
            seen[target.id] = index


_FIELDS = {"campaign": set(CampaignInfo.model_fields), "targets": set(Target.model_fields)}


def _problems(
    path: Path, data: Any, lines: dict[Path_, int], exc: ValidationError
) -> Iterator[Problem]:
    for error in exc.errors(include_url=False):
        loc: Path_ = tuple(error["loc"])
        target = _target_id(data, loc)
        line = _nearest_line(lines, loc)
        field_name = _field_name(loc)
        yield Problem(
            file=path, line=line, target=target, field=field_name,
            message=_humane(error["type"], error["msg"], loc, error.get("ctx") or {}),
        )


def _target_id(data: Any, loc: Path_) -> str | None:
    if len(loc) >= 2 and loc[0] == "targets" and isinstance(loc[1], int):
        targets = data.get("targets") if isinstance(data, dict) else None
        if isinstance(targets, list) and loc[1] < len(targets):
            item = targets[loc[1]]
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                return str(item["id"])
            return f"#{loc[1] + 1}"
    return None


def _field_name(loc: Path_) -> str | None:
    rest = loc[2:] if loc[:1] == ("targets",) else loc
    if loc[:1] == ("targets",) and len(loc) == 1:
        return "targets"
    if not rest:
        return None
    head, *tail = rest
    return str(head) + "".join(f"[{i + 1}]" if isinstance(i, int) else f".{i}" for i in tail)


def _nearest_line(lines: dict[Path_, int], loc: Path_) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _humane(kind: str, msg: str, loc: Path_, ctx: dict[str, Any]) -> str:
    key = str(loc[-1]) if loc else ""
    if kind == "extra_forbidden":
        known = _FIELDS["targets" if loc[:1] == ("targets",) else "campaign"]
        if len(loc) == 1:
            known = {"campaign", "targets"}
        close = difflib.get_close_matches(key, sorted(known), n=1)
        guess = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown key '{key}'{guess}; allowed keys: {', '.join(sorted(known))}"
    if kind == "missing":
        return f"'{key}' is required but missing"
    if kind == "too_short" and loc == ("targets",):
        return "the campaign needs at least one target"
    if kind in ("string_type", "str_type"):
        return "must be text (put it in quotes)"
    if kind in ("string_too_long",):
        return f"is too long: at most {ctx.get('max_length')} characters"
    if kind in ("string_too_short",):
        return "must not be empty"
    if kind in ("tuple_type", "list_type"):
        return "must be a list, like [a@example.org, b@example.org]"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a mapping of keys and values"
    return msg.removeprefix("Value error, ")
