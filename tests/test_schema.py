"""``protest schema`` and ``protest new``: an editor's schema that never refuses a valid file."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from kit import BASIC, cli, make_campaign, write_campaign
from protest_dispatch.campaign import yamlfile
from protest_dispatch.campaign.loading import load_campaign
from protest_dispatch.campaign.model import Campaign, CampaignInfo, Target
from protest_dispatch.campaign.schema import MODELINE, SCHEMA_FILE, campaign_schema
from protest_dispatch.errors import CampaignError

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = sorted((Path(__file__).parent / "hostile" / "campaigns").glob("*.yaml"))
# Keywords draft 7 does not know: the YAML language server would ignore or choke on them.
NOT_DRAFT_07 = {
    "$defs",
    "prefixItems",
    "$anchor",
    "$dynamicRef",
    "$dynamicAnchor",
    "$recursiveRef",
    "dependentRequired",
    "dependentSchemas",
    "unevaluatedItems",
    "unevaluatedProperties",
    "minContains",
    "maxContains",
    "$vocabulary",
}


def _keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = set(node)
        for key, value in node.items():
            if key not in ("examples", "properties", "definitions"):
                found |= _keys(value)
            elif key in ("properties", "definitions"):
                for child in value.values():
                    found |= _keys(child)
        return found
    if isinstance(node, list):
        return set().union(*(_keys(item) for item in node)) if node else set()
    return set()


def _validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(campaign_schema())


def _data(path: Path) -> Any:
    """The campaign as plain data, read as protest reads it (no alias bombs expanded)."""
    text = yamlfile.read_text(path)
    data, _lines, _problems = yamlfile.parse(path, text)
    return data


def test_the_schema_is_a_valid_draft_07_schema_without_newer_keywords() -> None:
    schema = campaign_schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    assert not _keys(schema) & NOT_DRAFT_07


@pytest.mark.parametrize("model", [Campaign, CampaignInfo, Target])
def test_every_field_has_a_description_and_an_example_the_model_accepts(model: Any) -> None:
    for name, field in model.model_fields.items():
        assert field.description, f"{model.__name__}.{name} has no description"
        assert field.examples, f"{model.__name__}.{name} has no example"
    schema = campaign_schema()
    properties = [schema["properties"], *(d["properties"] for d in schema["definitions"].values())]
    for props in properties:
        for name, prop in props.items():
            assert prop.get("description"), name
            assert prop.get("examples"), name


def test_each_example_value_is_valid_for_its_field() -> None:
    base_target = {"id": "t", "name": "T", "email": "t@example.org", "template": "a.md.j2"}
    for name, field in CampaignInfo.model_fields.items():
        for example in field.examples or ():
            CampaignInfo.model_validate({"id": "c", "subject": "S", name: example})
    for name, field in Target.model_fields.items():
        for example in field.examples or ():
            Target.model_validate({**base_target, name: example})
    for example in Campaign.model_fields["targets"].examples or ():
        Campaign.model_validate({"campaign": {"id": "c", "subject": "S"}, "targets": example})


def test_the_example_campaign_the_kit_campaigns_and_the_scaffold_match_the_schema(
    tmp_path: Path,
) -> None:
    cli(["new", str(tmp_path / "new")], expect=0)
    paths = [
        ROOT / "targets.yaml",
        write_campaign(tmp_path / "basic", BASIC),
        make_campaign(tmp_path / "calls", calls=True),
        tmp_path / "new" / "targets.yaml",
    ]
    for path in paths:
        load_campaign(path=path)
        errors = [e.message for e in _validator().iter_errors(_data(path))]
        assert not errors, f"{path}: {errors}"


VALID_BUT_UNUSUAL = [
    '  - id: " court "\n    name: "Judge"\n    email: court@example.org\n    template: a.md.j2\n',
    '  - id: court\n    name: "Judge"\n    phone: "+7 7172 747570"\n    country: " gb "\n',
    "  - id: court\n    name: Judge\n    email: COURT@Example.ORG\n    template: a.md.j2\n"
    "    cc: []\n    role:\n",
]


@pytest.mark.parametrize("targets", VALID_BUT_UNUSUAL)
def test_the_schema_accepts_what_validate_accepts(tmp_path: Path, targets: str) -> None:
    path = write_campaign(
        tmp_path, 'campaign:\n  id: c\n  subject: "S"\ntargets:\n' + targets, {"a.md.j2": "Hi\n"}
    )
    load_campaign(path=path)
    assert not list(_validator().iter_errors(_data(path)))


@pytest.mark.parametrize("path", HOSTILE, ids=lambda p: p.stem)
def test_every_hostile_campaign_the_schema_rejects_validate_rejects_too(path: Path) -> None:
    try:
        data = _data(path)
    except CampaignError:
        return  # not even YAML protest reads: refused before any schema could see it
    if _validator().is_valid(data):
        return  # the schema may accept more than validate: it cannot run the rules
    with pytest.raises(CampaignError):
        load_campaign(path=path)


def test_protest_schema_prints_the_schema_new_writes(tmp_path: Path) -> None:
    printed = json.loads(cli(["schema"], expect=0).out)
    assert printed == campaign_schema()
    cli(["new", str(tmp_path / "c")], expect=0)
    written = json.loads((tmp_path / "c" / SCHEMA_FILE).read_text(encoding="utf-8"))
    assert written == printed


def test_new_writes_a_campaign_that_validates_with_a_warning_per_placeholder(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "campaign"
    cli(["new", str(folder)], expect=0)
    targets = folder / "targets.yaml"
    assert targets.read_text(encoding="utf-8").splitlines()[0] == MODELINE
    assert (folder / "letters" / "letter.md.j2").is_file()
    assert (folder / "attachments").is_dir()
    assert "protest send --dry-run" in (folder / "README.md").read_text(encoding="utf-8")
    loaded = load_campaign(path=folder)
    addresses = [t.email for t in loaded.campaign.targets if t.email]
    assert {t.phone is not None and t.email is None for t in loaded.campaign.targets} == {
        True,
        False,
    }
    assert any(t.country for t in loaded.campaign.targets)
    run = cli(["validate", "-t", str(folder), "--country", "GB"], expect=0)
    placeholders = [line for line in run.err.splitlines() if "is a placeholder" in line]
    assert len(placeholders) == len(addresses) == 2
    for address in addresses:
        assert any(address in line for line in placeholders)
    data = yaml.safe_load(targets.read_text(encoding="utf-8"))
    assert data["campaign"]["id"] == loaded.campaign.campaign.id


@pytest.mark.parametrize("kind", ["file", "one-file-inside", "hidden-file-inside"])
def test_new_refuses_anything_but_a_new_or_empty_folder(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "c"
    if kind == "file":
        target.write_text("mine\n")
    else:
        target.mkdir()
        (target / ("notes.txt" if kind == "one-file-inside" else ".git")).write_text("mine\n")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    run = cli(["new", str(target)], expect=2)
    assert "protest new DIR" in run.err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_new_into_an_empty_folder_works(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    cli(["new", str(tmp_path / "c")], expect=0)
    load_campaign(path=tmp_path / "c")


def test_the_scaffold_letter_varies_by_sender_and_its_commented_settings_are_valid(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "c"
    cli(["new", str(folder)], expect=0)
    assert "{% choose %}" in (folder / "letters" / "letter.md.j2").read_text(encoding="utf-8")
    openings = set()
    for name in ("ann", "bob", "cyd", "dee", "eve", "fay", "gus", "hal"):
        env = {"PROTEST_FROM": f"{name.title()} Example <{name}@example.org>"}
        run = cli(["send", "--dry-run", "-t", str(folder)], env=env, expect=0)
        opening = next(line for line in run.out.splitlines() if "drop the charges" in line)
        openings.add(opening)
        assert "\n\n\n" not in run.out.split("Dear ", 1)[1].split("Yours", 1)[0]
    assert len(openings) > 1
    targets = folder / "targets.yaml"
    keys = "own_words|timezone|office_hours|send_window|spread|starts|ends|closed"
    settings = re.compile(rf"^  # ((?:{keys}): )")
    text = targets.read_text(encoding="utf-8")
    lines = [settings.sub(r"  \1", line) for line in text.splitlines()]
    assert sum(a != b for a, b in zip(lines, text.splitlines(), strict=True)) == 8
    targets.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = cli(["validate", "-t", str(folder)], expect=0)
    assert "The charges were dropped." in run.output


def test_validate_names_the_first_20_placeholders_and_counts_the_rest(tmp_path: Path) -> None:
    """A test campaign of thousands of example.org addresses must not bury the rest."""
    path = make_campaign(tmp_path / "c", targets=24, campaign_cc=())
    run = cli(["validate", "-t", str(path), "--from", "Ana <ana@example.org>"], expect=0)
    named = [line for line in run.err.splitlines() if "is a placeholder" in line]
    assert len(named) == 20
    assert "... and 4 more placeholder address(es)" in " ".join(run.err.split())
    every = cli(["validate", "-t", str(path), "--from", "Ana <ana@example.org>", "--all"])
    assert len([line for line in every.err.splitlines() if "is a placeholder" in line]) == 24
    assert "more placeholder" not in every.err
