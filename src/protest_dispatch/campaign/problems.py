"""Every problem with a campaign file located: its line, target and field, worded for a person.

pydantic's errors name a place in the data; here that place becomes the nearest
line in the file and a sentence an organiser can act on. Every text quoted from
the file is made safe for a terminal before it is shown.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from protest_dispatch.campaign.fields import YAML_BOOLEAN_HINT, FieldError, ItemError, shown
from protest_dispatch.campaign.model import CampaignInfo, Target
from protest_dispatch.errors import CampaignError, Problem

Where = tuple[str | int, ...]
"""A place in the campaign's data: keys and list indexes from the top."""
Lines = dict[Where, int]
"""The line in the file of each place in the data."""


def single(path: Path, message: str, *, line: int | None = None) -> CampaignError:
    """One problem that stops reading the file: nothing after it could be located."""
    return CampaignError(visible([Problem(file=path, message=message, line=line)]))


def visible(problems: list[Problem]) -> list[Problem]:
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


_FIELDS = {"campaign": set(CampaignInfo.model_fields), "targets": set(Target.model_fields)}


def located(path: Path, data: Any, lines: Lines, exc: ValidationError) -> Iterator[Problem]:
    """Each of pydantic's errors as a Problem at the nearest line, in the organiser's words."""
    for error in exc.errors(include_url=False):
        loc: Where = tuple(error["loc"])
        if error["type"] == "too_short" and loc == ("targets",) and error.get("input"):
            continue  # pydantic counts only valid targets; the invalid ones are reported already
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, FieldError):
            loc = (*loc, cause.field)
        elif isinstance(cause, ItemError):
            loc = (*loc, cause.index)
        target = _target_id(data, loc)
        yield Problem(
            file=path,
            line=nearest_line(lines, loc),
            target=target,
            field=field_name(loc),
            message=_humane(
                error["type"], error["msg"], loc, error.get("ctx") or {}, error.get("input")
            ),
        )


def _target_id(data: Any, loc: Where) -> str | None:
    if len(loc) >= 2 and loc[0] == "targets" and isinstance(loc[1], int):
        targets = data.get("targets") if isinstance(data, dict) else None
        if isinstance(targets, list) and loc[1] < len(targets):
            item = targets[loc[1]]
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                return str(item["id"])
            return f"#{loc[1] + 1}"
    return None


def field_name(loc: Where) -> str | None:
    rest = loc[2:] if loc[:1] == ("targets",) else loc
    if loc[:1] == ("targets",) and len(loc) == 1:
        return "targets"
    if not rest:
        return None
    head, *tail = rest
    return str(head) + "".join(f"[{i + 1}]" if isinstance(i, int) else f".{i}" for i in tail)


def nearest_line(lines: Lines, loc: Where) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _humane(kind: str, msg: str, loc: Where, ctx: dict[str, Any], given: Any = None) -> str:
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
