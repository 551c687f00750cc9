"""Hold every resource of infra/azure/*.bicep against Azure's published ARM JSON schemas (opt-in check).

The Bicep CLI is not installable here, so nothing in `make test` type-checks property names against the
resource providers. This does the part that matters most for a first `what-if`: for each resource, at its
pinned API version, every property name must exist in the schema, every nested object must have its
required properties, and every literal value of an enum property must be one of its values. Expressions,
parameter and variable references are not evaluated.

    .cache/tools-venv/bin/python infra/azure/check_schemas.py <azure-resource-manager-schemas checkout>

It needs pycep-parser (the tools venv has it) and a checkout (or a bare clone, with --git) of the schemas
repository; it prints one line per problem and exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SECTIONS = ("resourceDefinitions", "extension_resourceDefinitions", "unknown_resourceDefinitions")


class Schemas:
    """The schema files of one API version and provider namespace, from a checkout or a bare clone."""

    def __init__(self, root: Path, bare: bool) -> None:
        self.root, self.bare = root, bare

    def _list(self, folder: str) -> list[str]:
        if self.bare:
            out = subprocess.run(
                ["git", "-C", str(self.root), "ls-tree", "--name-only", "HEAD", f"{folder}/"],
                capture_output=True,
                text=True,
                check=True,
            )
            return out.stdout.split()
        return [str(p.relative_to(self.root)) for p in (self.root / folder).glob("*.json")]

    def _read(self, path: str) -> Any:
        if self.bare:
            text = subprocess.run(
                ["git", "-C", str(self.root), "show", f"HEAD:{path}"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        else:
            text = (self.root / path).read_text()
        return json.loads(text)

    @cache  # noqa: B019 - one Schemas per run
    def documents(self, api_version: str, namespace: str) -> tuple[Any, ...]:
        prefix = namespace.lower() + "."
        names = [p for p in self._list(f"schemas/{api_version}") if Path(p).name.lower().startswith(prefix)]
        return tuple(self._read(p) for p in names)

    def definition(self, resource_type: str, api_version: str) -> tuple[Any, Any] | None:
        for doc in self.documents(api_version, resource_type.split("/")[0]):
            for section in SECTIONS:
                for node in doc.get(section, {}).values():
                    types = node.get("properties", {}).get("type", {}).get("enum", [])
                    if any(t.lower() == resource_type.lower() for t in types):
                        return doc, node
        return None


def _deref(doc: Any, node: Any) -> Any:
    while isinstance(node, dict) and node.get("$ref", "").startswith("#/"):
        target = doc
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


def _alternatives(doc: Any, node: Any) -> list[Any]:
    node = _deref(doc, node)
    if not isinstance(node, dict):
        return []
    found = [node]
    for key in ("oneOf", "anyOf", "allOf"):
        for alternative in node.get(key, []):
            found += _alternatives(doc, alternative)
    return found


def _properties(doc: Any, node: Any) -> dict[str, Any] | None:
    """Allowed property names (lowercase) of an object schema; None when it is free-form or not an object."""
    allowed: dict[str, Any] = {}
    for alternative in _alternatives(doc, node):
        if isinstance(alternative.get("properties"), dict):
            allowed |= {k.lower(): v for k, v in alternative["properties"].items()}
    return allowed or None


def _enum(doc: Any, node: Any) -> set[str] | None:
    values = {str(v) for a in _alternatives(doc, node) for v in a.get("enum", [])}
    return values or None


def _items(doc: Any, node: Any) -> Any:
    return next((a["items"] for a in _alternatives(doc, node) if "items" in a), None)


def _expression(value: Any) -> bool:
    return isinstance(value, dict) and bool({"operator", "function", "loop_type"} & set(value))


def check(trees: dict[str, Any], schemas: Schemas) -> list[str]:
    problems: list[str] = []
    top_dots = 0

    def walk(doc: Any, node: Any, value: Any, path: str, names: set[str]) -> None:
        if isinstance(value, str):
            enum = _enum(doc, node)
            if enum and value not in names and value.lower() not in {e.lower() for e in enum}:
                problems.append(f"{path} = {value!r}: not one of {sorted(enum)}")
        elif isinstance(value, list):
            items = _items(doc, node)
            for i, item in enumerate(value):
                if items is not None:
                    walk(doc, items, item, f"{path}[{i}]", names)
        elif isinstance(value, dict) and not _expression(value):
            allowed = _properties(doc, node)
            if allowed is None:
                return
            if path.count(".") > top_dots:  # nested objects: their required properties must be there
                required = {r for a in _alternatives(doc, node) for r in a.get("required", [])}
                given = {k.lower() for k in value}
                problems.extend(
                    f"{path}: {r} is required" for r in sorted(required) if r.lower() not in given
                )
            for key, item in value.items():
                if key.lower() not in allowed:
                    problems.append(f"{path}.{key}: not a property of the schema")
                else:
                    walk(doc, allowed[key.lower()], item, f"{path}.{key}", names)

    for file, tree in trees.items():
        names = set(tree.get("parameters", {})) | set(tree.get("variables", {}))
        for name, resource in tree.get("resources", {}).items():
            found = schemas.definition(resource["type"], resource["api_version"])
            if found is None:
                problems.append(f"{file}: {name}: no schema for {resource['type']}@{resource['api_version']}")
                continue
            if resource["existing"]:
                continue
            body = resource["config"]
            body = body["config"] if "loop_type" in body or "condition" in body else body
            top = {k: v for k, v in body.items() if k not in ("parent", "scope", "dependsOn", "name")}
            top_dots = f"{file}: {name}".count(".")
            walk(*found, top, f"{file}: {name}", names)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("schemas", type=Path, help="checkout of Azure/azure-resource-manager-schemas")
    parser.add_argument("--git", action="store_true", help="the path is a bare clone: read HEAD")
    args = parser.parse_args(argv)
    from pycep import BicepParser

    bicep = BicepParser()
    trees = {str(p.relative_to(HERE)): bicep.parse(file_path=p) for p in sorted(HERE.rglob("*.bicep"))}
    trees = json.loads(json.dumps(trees, default=str))
    problems = check(trees, Schemas(args.schemas, args.git))
    for line in problems:
        print(line)
    print(
        f"{len(trees)} files, {sum(len(t.get('resources', {})) for t in trees.values())} resources, "
        f"{len(problems)} problems",
        file=sys.stderr,
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
