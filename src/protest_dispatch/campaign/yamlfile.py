"""The campaign file as plain data, with the line of every key and value.

Campaign files travel between organisers and activists, so they are untrusted:
only YAML's plain data types are built (no tags, so nothing is ever executed),
anchors may not multiply the document ("billion laughs"), and duplicate keys are
problems instead of silently winning.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from protest_dispatch.campaign.problems import Lines, Where, single
from protest_dispatch.errors import CampaignError, InputError, Problem

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_VALUES = 500_000
MAX_DEPTH = 50
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_TOO_DEEP = f"the file is nested more than {MAX_DEPTH} levels deep"
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_text(path: Path) -> str:
    """Bounded and strictly UTF-8: a huge or binary file is refused before YAML sees it."""
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
        raise single(path, f"the file is larger than {MAX_FILE_BYTES // 2**20} MiB")
    if b"\x00" in raw:
        raise single(
            path,
            "this is not a text file (it contains NUL bytes)",
            line=raw[: raw.index(b"\x00")].count(b"\n") + 1,
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise single(
            path,
            f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8",
            line=raw[: exc.start].count(b"\n") + 1,
        ) from None


def parse(path: Path, text: str) -> tuple[Any, Lines, list[Problem]]:
    """The data, each place's line, and the problems validation reports with its own.

    Broken YAML, a bomb or a tag stops here; a duplicate or merge key does not, so an
    organiser sees it together with the model's problems.
    """
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
            raise single(path, what, line=mark.line + 1 if mark else None) from None
        raise single(
            path, f"this is not valid YAML: {what}", line=mark.line + 1 if mark else None
        ) from None
    except yaml.YAMLError as exc:
        raise single(path, f"this is not valid YAML: {exc}") from None
    if node is None:
        raise single(path, "the file is empty; it needs a 'campaign' and a list of 'targets'")
    if not isinstance(node, yaml.MappingNode):
        raise _at(
            path,
            node,
            "the file must be a mapping with 'campaign' and 'targets' at the top, "
            "not a list or a single value",
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


def _line(node: yaml.Node) -> int:
    """The node's line as people count them: YAML counts from 0."""
    return int(node.start_mark.line) + 1


def _at(path: Path, node: yaml.Node, message: str) -> CampaignError:
    return single(path, message, line=_line(node))


def _bomb(path: Path, node: yaml.Node) -> CampaignError:
    return _at(
        path,
        node,
        f"the file expands to more than {MAX_VALUES:,} values; YAML anchors and "
        "aliases seem to be used to multiply it (a 'billion laughs' file)",
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
            raise _at(path, node, "an alias refers to itself")
        if key not in known:
            if depth > MAX_DEPTH:
                raise _at(path, node, _TOO_DEEP)
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
            raise _at(path, node, _TOO_DEEP)
        return values, height

    measure(root, 0)


class _Builder:
    """Turns composed nodes into plain data, recording lines, refusing tricks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: Lines = {}
        self.problems: list[Problem] = []
        self.constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, where: Where) -> Any:
        """Only after _check_shape: the tree is known to be finite and of bounded size."""
        self.lines.setdefault(where, _line(node))
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
            raise _at(
                self.path,
                node,
                f"the value '{node.value[:40]}...' is not a number YAML can read "
                "(far too many digits?); if it is text, put it in quotes",
            ) from None

    def _mapping(self, node: yaml.MappingNode, where: Where) -> dict[str, Any]:
        result: dict[str, Any] = {}
        start = len(self.problems)
        for key_node, value_node in node.value:
            line = _line(key_node)
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
    return _at(
        path,
        node,
        f"the YAML tag '{node.tag}' is not allowed: campaign files hold plain text, "
        "numbers, lists and mappings only",
    )
