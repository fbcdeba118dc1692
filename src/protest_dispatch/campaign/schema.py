"""The campaign file's JSON Schema, for editors: draft-07, from the pydantic model.

Pydantic writes draft 2020-12 (``$defs``); the YAML language server reads draft 7,
so the definitions move to ``definitions`` and nothing 2020-12-only may remain
(``tests/test_schema.py`` checks the keywords). The schema is a helper, never the
judge: it may accept what ``validate`` refuses (an unknown country code), but
must never refuse what ``validate`` accepts.
"""

from __future__ import annotations

import json
from typing import Any

from protest_dispatch.campaign.model import Campaign

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
SCHEMA_FILE = "targets.schema.json"
"""The name ``protest new`` gives the schema beside targets.yaml."""
MODELINE = f"# yaml-language-server: $schema={SCHEMA_FILE}"


def campaign_schema() -> dict[str, Any]:
    schema = Campaign.model_json_schema(mode="validation", ref_template="#/definitions/{model}")
    definitions = schema.pop("$defs", {})
    for definition in definitions.values():
        _drop_titles(definition)
    _drop_titles(schema)
    schema.pop("title", None)
    return {
        "$schema": DRAFT_07,
        "title": "protest campaign file (targets.yaml)",
        **schema,
        "definitions": definitions,
    }


def _drop_titles(node: dict[str, Any]) -> None:
    """Pydantic's titles repeat the key ("Reply To"); the description says more.

    Draft 7 ignores every keyword beside a ``$ref``, so a described reference is
    wrapped in ``allOf`` for editors to show its description.
    """
    properties = node.get("properties", {})
    for key, value in properties.items():
        value.pop("title", None)
        if "$ref" in value and len(value) > 1:
            properties[key] = {"allOf": [{"$ref": value.pop("$ref")}], **value}


def schema_text() -> str:
    return json.dumps(campaign_schema(), indent=2, ensure_ascii=False) + "\n"
