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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from protest_dispatch.campaign.attachments import FOLDER, Attachment, check_files
from protest_dispatch.campaign.fields import YAML_BOOLEAN_HINT, FieldError, ItemError, shown
from protest_dispatch.campaign.mailboxes import shared_mailboxes
from protest_dispatch.campaign.model import Campaign, CampaignInfo, Target
from protest_dispatch.campaign.recipients import copies, too_many
from protest_dispatch.campaign.schedule import schedule_problems
from protest_dispatch.errors import CampaignError, InputError, Problem

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_VALUES = 500_000
MAX_DEPTH = 50
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
    warnings: tuple[Problem, ...] = ()
    """What is allowed but probably a mistake (a target's To is another's copy)."""
    attachments: dict[str, Attachment] = field(default_factory=dict, repr=False)
    """Every file the campaign names under attachments/, checked, by its name."""

    def target_line(self, index: int) -> int | None:
        return self.lines.get(("targets", index))

    def attachments_for(self, target: Target) -> tuple[Attachment, ...]:
        """The campaign's files, then the target's own, each once."""
        names = dict.fromkeys((*self.campaign.campaign.attachments, *target.attachments))
        return tuple(self.attachments[name] for name in names)


def resolve_campaign_path(path: Path) -> Path:
    """Accept the campaign folder as well as its targets.yaml."""
    return path / "targets.yaml" if path.is_dir() else path


def load_campaign(*, path: Path) -> LoadedCampaign:
    path = resolve_campaign_path(path)
    text = _read_text(path)
    data, lines, found = _parse(path, text)
    campaign, warnings = _validate(path, data, lines, found)
    return LoadedCampaign(
        campaign=campaign,
        path=path,
        letters_dir=path.parent / "letters",
        lines=lines,
        warnings=tuple(_visible(warnings)),
        attachments=_attachments(path, campaign, lines),
    )


def _attachments(path: Path, campaign: Campaign, lines: dict[Path_, int]) -> dict[str, Attachment]:
    """Every file named, checked, with each letter's count and size; every problem at once."""
    checked, faults = check_files(path.parent / FOLDER, campaign)
    if faults:
        raise CampaignError(
            _visible(
                [
                    Problem(
                        file=path,
                        line=_nearest_line(lines, where),
                        target=target_id,
                        field=_field_name(where),
                        message=message,
                    )
                    for where, target_id, message in faults
                ]
            )
        )
    return checked


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
        raise _single(
            path,
            "this is not a text file (it contains NUL bytes)",
            line=raw[: raw.index(b"\x00")].count(b"\n") + 1,
        )
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
    return CampaignError(_visible([Problem(file=path, message=message, line=line)]))


def _visible(problems: list[Problem]) -> list[Problem]:
    """Keys, ids and values quoted from the file cannot carry terminal escape codes."""
    return [
        replace(
            p,
            message=shown(p.message),
            target=None if p.target is None else shown(p.target),
            field=None if p.field is None else shown(p.field),
        )
        for p in problems
    ]


def _parse(path: Path, text: str) -> tuple[Any, dict[Path_, int], list[Problem]]:
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        if _tab_at(text, mark):
            what = (
                "this line has a tab character where YAML allows only spaces (it indents with "
                "spaces, never tabs); replace the tab with spaces"
            )
            raise _single(path, what, line=mark.line + 1 if mark else None) from None
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
    _check_shape(path, node)
    builder = _Builder(path)
    data = builder.build(node, ())
    return data, builder.lines, builder.problems


def _tab_at(text: str, mark: yaml.Mark | None) -> bool:
    """Whether YAML stumbled on a tab (the C and Python parsers word it differently)."""
    if mark is None:
        return False
    lines = text.splitlines()
    return mark.line < len(lines) and "\t" in lines[mark.line][: mark.column + 1]


def _bomb(path: Path, node: yaml.Node) -> CampaignError:
    return _single(
        path,
        f"the file expands to more than {MAX_VALUES:,} values; YAML anchors and "
        "aliases seem to be used to multiply it (a 'billion laughs' file)",
        line=node.start_mark.line + 1,
    )


def _check_shape(path: Path, root: yaml.Node) -> None:
    """Refuse alias bombs and absurd nesting before building anything.

    Counts what the document would expand to, each shared (aliased) node once
    per use, in time linear in the nodes actually written, so a "billion laughs"
    file is refused in milliseconds without being expanded.
    """
    known: dict[int, tuple[int, int]] = {}  # id(node) -> (values, height)
    active: set[int] = set()

    def measure(node: yaml.Node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in active:
            raise _single(path, "an alias refers to itself", line=node.start_mark.line + 1)
        if key not in known:
            if depth > MAX_DEPTH:
                raise _single(
                    path,
                    f"the file is nested more than {MAX_DEPTH} levels deep",
                    line=node.start_mark.line + 1,
                )
            children: list[yaml.Node] = []
            if isinstance(node, yaml.SequenceNode):
                children = list(node.value)
            elif isinstance(node, yaml.MappingNode):
                children = [part for pair in node.value for part in pair]
            active.add(key)
            values, height = 1, 0
            for child in children:
                child_values, child_height = measure(child, depth + 1)
                values += child_values
                height = max(height, child_height + 1)
                if values > MAX_VALUES:
                    raise _bomb(path, node)
            active.discard(key)
            known[key] = (values, height)
        values, height = known[key]
        if depth + height > MAX_DEPTH:
            raise _single(
                path,
                f"the file is nested more than {MAX_DEPTH} levels deep",
                line=node.start_mark.line + 1,
            )
        return values, height

    measure(root, 0)


class _Builder:
    """Turns composed nodes into plain data, recording lines, refusing tricks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: dict[Path_, int] = {}
        self.problems: list[Problem] = []
        self.constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, where: Path_) -> Any:
        """Only after _check_shape: the tree is known to be finite and of bounded size."""
        self.lines.setdefault(where, node.start_mark.line + 1)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ_TAG:
            return [self.build(item, (*where, i)) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode) and node.tag == _MAP_TAG:
            return self._mapping(node, where)
        raise _tag_error(self.path, node)

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        try:
            return self.constructor.construct_object(node)
        except yaml.constructor.ConstructorError:
            raise _tag_error(self.path, node) from None
        except (ValueError, OverflowError):  # e.g. an integer of 5,000 digits
            raise _single(
                self.path,
                f"the value '{node.value[:40]}...' is not a number YAML can read "
                "(far too many digits?); if it is text, put it in quotes",
                line=node.start_mark.line + 1,
            ) from None

    def _mapping(self, node: yaml.MappingNode, where: Path_) -> dict[str, Any]:
        result: dict[str, Any] = {}
        start = len(self.problems)
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problems.append(
                    Problem(file=self.path, line=line, message="'<<' merge keys are not supported")
                )
                continue
            key = self.build(key_node, (*where, "<key>"))
            if not isinstance(key, str):
                self.problems.append(
                    Problem(file=self.path, line=line, message=f"the key {key!r} must be a word")
                )
                continue
            if key in result:
                self.problems.append(
                    Problem(
                        file=self.path,
                        line=line,
                        field=key,
                        message=f"'{key}' appears twice here; keep one",
                    )
                )
                continue
            self.lines[(*where, key)] = line
            result[key] = self.build(value_node, (*where, key))
        target = result.get("id")
        if len(where) == 2 and where[0] == "targets" and isinstance(target, str):
            self.problems[start:] = [
                p if p.target is not None else replace(p, target=target)
                for p in self.problems[start:]
            ]
        return result


def _tag_error(path: Path, node: yaml.Node) -> CampaignError:
    return _single(
        path,
        f"the YAML tag '{node.tag}' is not allowed: campaign files hold plain text, "
        "numbers, lists and mappings only",
        line=node.start_mark.line + 1,
    )


def _validate(
    path: Path, data: dict[str, Any], lines: dict[Path_, int], found: list[Problem]
) -> tuple[Campaign, list[Problem]]:
    """Every problem at once: YAML-level ones, field ones and duplicate ids together.

    Returns the campaign and its warnings: what is allowed but probably a mistake.
    """
    problems = list(found)
    warnings: list[Problem] = []
    campaign: Campaign | None = None
    try:
        campaign = Campaign.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problems(path, data, lines, exc))
    problems.extend(_duplicate_ids(path, data, lines))
    if campaign is not None:
        problems.extend(_too_many_recipients(path, campaign, lines))
        problems.extend(schedule_problems(path, campaign, lines))
        errors, warnings = shared_mailboxes(path=path, campaign=campaign, lines=lines)
        problems.extend(errors)
    if problems or campaign is None:
        raise CampaignError(_visible(sorted(problems, key=lambda p: p.line or 0)))
    return campaign, warnings


def _duplicate_ids(path: Path, data: Any, lines: dict[Path_, int]) -> Iterator[Problem]:
    targets = data.get("targets") if isinstance(data, dict) else None
    if not isinstance(targets, list):
        return
    seen: dict[str, int] = {}
    for index, item in enumerate(targets):
        raw = item.get("id") if isinstance(item, dict) else None
        if not isinstance(raw, str):
            continue
        target_id = raw.strip()
        if target_id in seen:
            first = lines.get(("targets", seen[target_id]))
            yield Problem(
                file=path,
                line=lines.get(("targets", index, "id")),
                target=target_id,
                field="id",
                message=f"the id '{target_id}' is already used by the target on line {first}; "
                "every target needs its own id",
            )
        else:
            seen[target_id] = index


def _too_many_recipients(
    path: Path, campaign: Campaign, lines: dict[Path_, int]
) -> Iterator[Problem]:
    """Providers refuse a message with too many recipients; say so before sending."""
    shared = campaign.campaign.cc
    for index, target in enumerate(campaign.targets):
        if target.email is None:
            continue
        refused = too_many(
            1 + len(copies(to=target.email, campaign_cc=shared, target_cc=target.cc))
        )
        if refused is not None:
            yield Problem(
                file=path,
                line=lines.get(("targets", index, "cc"), lines.get(("targets", index))),
                target=target.id,
                field="cc",
                message=refused,
            )


_FIELDS = {"campaign": set(CampaignInfo.model_fields), "targets": set(Target.model_fields)}


def _problems(
    path: Path, data: Any, lines: dict[Path_, int], exc: ValidationError
) -> Iterator[Problem]:
    for error in exc.errors(include_url=False):
        loc: Path_ = tuple(error["loc"])
        if error["type"] == "too_short" and loc == ("targets",) and error.get("input"):
            continue  # pydantic counts only valid targets; the invalid ones are reported already
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, FieldError):
            loc = (*loc, cause.field)
        elif isinstance(cause, ItemError):
            loc = (*loc, cause.index)
        target = _target_id(data, loc)
        line = _nearest_line(lines, loc)
        field_name = _field_name(loc)
        yield Problem(
            file=path,
            line=line,
            target=target,
            field=field_name,
            message=_humane(
                error["type"], error["msg"], loc, error.get("ctx") or {}, error.get("input")
            ),
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


def _humane(kind: str, msg: str, loc: Path_, ctx: dict[str, Any], given: Any = None) -> str:
    key = str(loc[-1]) if loc else ""
    if kind in ("string_type", "str_type") and isinstance(given, bool):
        return f"must be text, not {str(given).lower()}: {YAML_BOOLEAN_HINT}"
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
    if kind == "too_long":  # a length checked after another validator ran
        unit = "items" if ctx.get("field_type") in ("List", "Tuple") else "characters"
        return f"is too long: at most {ctx.get('max_length')} {unit}"
    if kind in ("string_too_short",):
        return "must not be empty"
    if kind in ("tuple_type", "list_type") and loc == ("targets",):
        return "must be a list of targets, each starting with '- id:'"
    if kind in ("tuple_type", "list_type"):
        return "must be a list, like [a@example.org, b@example.org]"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "must be a whole number"
    if kind == "enum":
        return f"must be {ctx.get('expected')}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a mapping of keys and values"
    return msg.removeprefix("Value error, ")
