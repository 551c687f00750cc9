"""infra/azure/check_schemas.py finds unknown property names and enum values (on a tiny hand-made schema)."""

from __future__ import annotations

import importlib.util
from types import ModuleType
from typing import Any

from tests.infra.azure.conftest import AZURE_DIR

SCHEMA = {
    "resourceDefinitions": {
        "widgets": {
            "properties": {
                "type": {"enum": ["Contoso.Things/widgets"]},
                "name": {"type": "string"},
                "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                "properties": {"oneOf": [{"$ref": "#/definitions/WidgetProperties"}, {"type": "string"}]},
            }
        }
    },
    "definitions": {
        "WidgetProperties": {
            "properties": {
                "size": {"oneOf": [{"enum": ["Small", "Large"]}, {"type": "string"}]},
                "parts": {"type": "array", "items": {"$ref": "#/definitions/Part"}},
            }
        },
        "Part": {
            "properties": {"label": {"type": "string"}, "note": {"type": "string"}},
            "required": ["label"],
        },
    },
}


class FakeSchemas:
    def definition(self, resource_type: str, api_version: str) -> tuple[Any, Any] | None:
        if (resource_type, api_version) == ("Contoso.Things/widgets", "2024-01-01"):
            return SCHEMA, SCHEMA["resourceDefinitions"]["widgets"]
        return None


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_schemas", AZURE_DIR / "check_schemas.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tree(properties: dict[str, Any], resource_type: str = "Contoso.Things/widgets") -> dict[str, Any]:
    return {
        "parameters": {"sizeParam": {}},
        "resources": {
            "widget": {
                "type": resource_type,
                "api_version": "2024-01-01",
                "existing": False,
                "config": {"name": "w", "tags": "tags", "properties": properties},
            }
        },
    }


def test_a_valid_resource_has_no_problem() -> None:
    good = {"size": "large", "parts": [{"label": "a"}]}
    assert load().check({"x.bicep": tree(good)}, FakeSchemas()) == []
    # A parameter reference and an expression are not judged.
    refs = {"size": "sizeParam", "parts": {"operator": {"type": "concat"}}}
    assert load().check({"x.bicep": tree(refs)}, FakeSchemas()) == []


def test_unknown_names_values_and_types_are_reported() -> None:
    bad = {"sise": "Small", "size": "Huge", "parts": [{"lable": "a"}, {"note": "b"}]}
    assert load().check({"x.bicep": tree(bad)}, FakeSchemas()) == [
        "x.bicep: widget.properties.sise: not a property of the schema",
        "x.bicep: widget.properties.size = 'Huge': not one of ['Large', 'Small']",
        "x.bicep: widget.properties.parts[0]: label is required",
        "x.bicep: widget.properties.parts[0].lable: not a property of the schema",
        "x.bicep: widget.properties.parts[1]: label is required",
    ]
    assert load().check({"x.bicep": tree({}, "Contoso.Things/gadgets")}, FakeSchemas()) == [
        "x.bicep: widget: no schema for Contoso.Things/gadgets@2024-01-01"
    ]
