"""Every PBIR / PBIP JSON file of powerbi/ against Microsoft's published JSON schema named by its ``$schema``.

The schemas are vendored unmodified from github.com/microsoft/json-schemas (tests/powerbi/schemas/README.md
names the commit) at their repository paths, so their relative ``$ref``s resolve between the files offline:
the registry below has no retriever, and a ``$ref`` to a file that is not vendored fails instead of fetching.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import referencing.exceptions
from jsonschema import Draft7Validator
from jsonschema.validators import validator_for
from referencing import Registry
from referencing.jsonschema import DRAFT7

from tests.powerbi.conftest import PROJECT

SCHEMAS = Path(__file__).parent / "schemas"
SCHEMA_BASE = "https://developer.microsoft.com/json-schemas/"
SCHEMA_FILES = sorted(SCHEMAS.rglob("*.json"))


def load_schemas() -> dict[str, dict[str, Any]]:
    """``{url: schema}`` of every vendored file, by the URL of its path (what ``$schema``/``$ref`` use)."""
    return {
        SCHEMA_BASE + file.relative_to(SCHEMAS).as_posix(): json.loads(file.read_text(encoding="utf-8"))
        for file in SCHEMA_FILES
    }


def vendored_registry(schemas: dict[str, dict[str, Any]]) -> Registry:
    """Each schema under its path URL and its ``$id`` (``visualConfiguration``'s ``schema-embedded.json``
    declares the id ``schema.embedded.json``); no retriever, so nothing is ever fetched."""
    resources = []
    for url, schema in schemas.items():
        resource = DRAFT7.create_resource(schema)
        resources += [(url, resource), (schema.get("$id", url), resource)]
    return Registry().with_resources(resources)


SCHEMA_BY_URL = load_schemas()
REGISTRY = vendored_registry(SCHEMA_BY_URL)


def project_json_files(root: Path) -> list[Path]:
    """The PBIP's JSON files: the report definition's ``*.json``, ``.pbip``, ``.pbir``, ``.pbism`` and
    ``.platform`` (Desktop's per-user ``.pbi/`` folders are not part of the project)."""
    suffixes = {".json", ".pbip", ".pbir", ".pbism"}
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and (p.suffix in suffixes or p.name == ".platform") and ".pbi" not in p.parts
    )


def schema_problems(file: Path, root: Path) -> list[str]:
    """What is wrong with one file against the schema of its ``$schema``, as ``<file>: <path>: <message>``."""
    where = file.relative_to(root).as_posix()
    content = json.loads(file.read_text(encoding="utf-8"))
    url = content.get("$schema")
    if url not in SCHEMA_BY_URL:
        return [f"{where}: $schema {url!r} is not vendored in tests/powerbi/schemas"]
    validator = Draft7Validator(SCHEMA_BY_URL[url], registry=REGISTRY)
    return [
        f"{where}: {error.json_path}: {error.message}"
        for error in sorted(validator.iter_errors(content), key=lambda e: e.json_path)
    ]


def test_the_vendored_schemas_are_draft_07_and_well_formed() -> None:
    assert len(SCHEMA_FILES) == 13
    for url, schema in SCHEMA_BY_URL.items():
        assert schema["$schema"] == "http://json-schema.org/draft-07/schema#", url
        assert validator_for(schema) is Draft7Validator, url
        Draft7Validator.check_schema(schema)


def test_every_project_file_is_valid_against_its_published_schema() -> None:
    files = project_json_files(PROJECT.parent)
    names = {f.name for f in files}
    assert {"Lakehouse.pbip", "definition.pbir", "definition.pbism", ".platform", "report.json"} <= names
    assert {"version.json", "pages.json", "page.json", "visual.json"} <= names
    assert [problem for file in files for problem in schema_problems(file, PROJECT.parent)] == []


def test_each_report_file_kind_uses_one_schema_version() -> None:
    definition = PROJECT.parent / "Lakehouse.Report" / "definition"
    kinds = {
        "visual.json": "visualContainer/2.9.0",
        "page.json": "page/2.1.0",
        "pages.json": "pagesMetadata/1.1.0",
        "report.json": "report/3.3.0",
        "version.json": "versionMetadata/1.0.0",
    }
    for file in definition.rglob("*.json"):
        url = json.loads(file.read_text())["$schema"]
        assert url == f"{SCHEMA_BASE}fabric/item/report/definition/{kinds[file.name]}/schema.json", file


@pytest.fixture
def report_copy(tmp_path: Path) -> Path:
    shutil.copytree(PROJECT.parent, tmp_path / "powerbi")
    return tmp_path / "powerbi"


def first_visual(root: Path) -> Path:
    return sorted((root / "Lakehouse.Report" / "definition" / "pages").rglob("visual.json"))[0]


def test_an_error_deep_in_a_referenced_schema_is_reported(report_copy: Path) -> None:
    """A misspelt key inside a field expression: only found if visualContainer -> visualConfiguration ->
    semanticQuery resolve across the vendored files."""
    visual = first_visual(report_copy)
    content = json.loads(visual.read_text())
    projection = next(iter(content["visual"]["query"]["queryState"].values()))["projections"][0]
    kind = "Measure" if "Measure" in projection["field"] else "Column"
    projection["field"][kind]["Propery"] = projection["field"][kind].pop("Property")
    content["position"]["width"] = "wide"
    visual.write_text(json.dumps(content))
    problems = schema_problems(visual, report_copy)
    where = visual.relative_to(report_copy).as_posix()
    assert f"{where}: $.position.width: 'wide' is not of type 'number'" in problems
    assert any(p.startswith(f"{where}: $.visual.query.queryState.") and "'Propery'" in p for p in problems)


def test_a_schema_version_that_is_not_vendored_is_reported(report_copy: Path) -> None:
    version = report_copy / "Lakehouse.Report" / "definition" / "version.json"
    url = f"{SCHEMA_BASE}fabric/item/report/definition/versionMetadata/9.0.0/schema.json"
    version.write_text(json.dumps({"$schema": url, "version": "2.0.0"}))
    assert schema_problems(version, report_copy) == [
        f"Lakehouse.Report/definition/version.json: $schema {url!r} is not vendored in tests/powerbi/schemas"
    ]


def test_a_ref_outside_the_vendored_files_fails_instead_of_fetching() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": f"{SCHEMA_BASE}fabric/item/report/definition/example/1.0.0/schema.json",
        "$ref": "../../semanticQuery/9.9.9/schema.json",
    }
    with pytest.raises(referencing.exceptions.Unresolvable):
        Draft7Validator(schema, registry=REGISTRY).validate({})
