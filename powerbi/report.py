"""Read a PBIR report (``<name>.Report/definition``) and hold its visuals against the TMDL model and the page.

PBIR keeps a report as small JSON files: ``pages/pages.json`` orders the pages, ``pages/<page>/page.json``
sizes one, and ``pages/<page>/visuals/<visual>/visual.json`` places one visual and says which fields of the
semantic model it shows. A field is a semantic-query expression such as
``{"Measure": {"Expression": {"SourceRef": {"Entity": "Sales"}}, "Property": "Revenue"}}``; an aggregation
(``{"Aggregation": {"Expression": {"Column": ...}, "Function": 0}}``) wraps a column reference.

Power BI Desktop opens a report whose visual names a field the model lacks, and shows a broken visual. The
checks here find that before anyone opens it: every ``Column`` / ``Measure`` reference of every visual
(its query, sort, formatting and filters) names a table of the model and a column, or a measure, of that
table. The layout checks keep each visual on its page and off the others.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from powerbi.tmdl import SemanticModel, load_model


@dataclass(frozen=True)
class FieldRef:
    """One field a visual shows: ``kind`` is ``Column`` or ``Measure``; ``path`` where it sits in the JSON."""

    kind: str
    entity: str
    property: str
    path: str


@dataclass(frozen=True)
class Visual:
    """One ``visual.json``: its file (relative to the report definition), name, type, box and fields."""

    file: str
    page: str
    name: str
    visual_type: str | None
    x: float
    y: float
    width: float
    height: float
    fields: tuple[FieldRef, ...]
    unresolved: tuple[str, ...]


@dataclass(frozen=True)
class Page:
    name: str
    display_name: str
    width: float
    height: float
    visuals: tuple[Visual, ...]


def field_refs(value: Any, path: str = "") -> tuple[list[FieldRef], list[str]]:
    """Every ``Column`` / ``Measure`` reference below ``value``, and the paths of references whose table is
    not named by an ``Entity`` (a ``Source`` alias without a matching ``From`` entry)."""
    refs: list[FieldRef] = []
    unresolved: list[str] = []
    _walk(value, path, {}, refs, unresolved)
    return refs, unresolved


def _walk(
    value: Any, path: str, aliases: dict[str, str], refs: list[FieldRef], unresolved: list[str]
) -> None:
    if isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, f"{path}[{i}]", aliases, refs, unresolved)
        return
    if not isinstance(value, dict):
        return
    if isinstance(value.get("From"), list):  # a filter's query names its tables once, by alias
        named = {f["Name"]: f["Entity"] for f in value["From"] if "Name" in f and "Entity" in f}
        aliases = {**aliases, **named}
    for kind in ("Column", "Measure"):
        ref = value.get(kind)
        if isinstance(ref, dict) and "Property" in ref:
            source = (ref.get("Expression") or {}).get("SourceRef") or {}
            entity = source.get("Entity") or aliases.get(source.get("Source", ""))
            where = f"{path}.{kind}"
            if entity:
                refs.append(FieldRef(kind, entity, ref["Property"], where))
            else:
                unresolved.append(f"{where} ({ref['Property']!r}: no Entity)")
    for key, child in value.items():
        _walk(child, f"{path}.{key}" if path else key, aliases, refs, unresolved)


def load_report(definition: Path | str) -> list[Page]:
    """The pages of a report ``definition`` folder (or its ``.Report`` folder), in ``pages.json`` order,
    then any page folder not listed there."""
    root = Path(definition)
    root = root / "definition" if (root / "definition").is_dir() else root
    pages_dir = root / "pages"
    order = json.loads((pages_dir / "pages.json").read_text(encoding="utf-8")).get("pageOrder", [])
    folders = [p.parent.name for p in sorted(pages_dir.glob("*/page.json"))]
    names = [n for n in order if n in folders] + [n for n in folders if n not in order]
    return [_page(root, pages_dir / name) for name in names]


def _page(root: Path, folder: Path) -> Page:
    page = json.loads((folder / "page.json").read_text(encoding="utf-8"))
    visuals = []
    for file in sorted(folder.glob("visuals/*/visual.json")):
        content = json.loads(file.read_text(encoding="utf-8"))
        position = content.get("position") or {}
        refs, unresolved = field_refs(content.get("visual") or {}, "visual")
        filter_refs, filter_unresolved = field_refs(content.get("filterConfig") or {}, "filterConfig")
        visuals.append(
            Visual(
                file=str(file.relative_to(root)),
                page=folder.name,
                name=content.get("name", ""),
                visual_type=(content.get("visual") or {}).get("visualType"),
                x=position.get("x", 0),
                y=position.get("y", 0),
                width=position.get("width", 0),
                height=position.get("height", 0),
                fields=tuple(refs + filter_refs),
                unresolved=tuple(unresolved + filter_unresolved),
            )
        )
    return Page(
        name=folder.name,
        display_name=page.get("displayName", ""),
        width=page.get("width", 0),
        height=page.get("height", 0),
        visuals=tuple(visuals),
    )


def check_bindings(definition: Path | str, model: SemanticModel | Path | str) -> list[str]:
    """Every field of every visual that the model does not have, as ``<file>: <problem>`` sentences.

    A ``Measure`` must be a measure of the named table (Power BI looks it up in its home table), a ``Column``
    a column of it; a visual that shows no field at all is reported too (it would be an empty box).
    """
    model = model if isinstance(model, SemanticModel) else load_model(model)
    problems: list[str] = []
    for page in load_report(definition):
        for visual in page.visuals:
            if not visual.fields:
                problems.append(f"{visual.file}: binds no field of the model")
            problems += [f"{visual.file}: {where} does not name its table" for where in visual.unresolved]
            for ref in visual.fields:
                table = model.tables.get(ref.entity)
                name = f"{ref.entity}[{ref.property}]"
                if table is None:
                    problems.append(
                        f"{visual.file}: {ref.kind} {name}: table {ref.entity!r} not in the model"
                    )
                elif ref.kind == "Measure" and ref.property not in table.measures:
                    problems.append(f"{visual.file}: Measure {name} is not a measure of {ref.entity!r}")
                elif ref.kind == "Column" and ref.property not in table.columns:
                    problems.append(f"{visual.file}: Column {name} is not a column of {ref.entity!r}")
    return problems


def check_layout(definition: Path | str) -> list[str]:
    """Visual names unique per page and equal to their folder, every box inside its page with a positive
    size, and no two boxes of a page overlapping (touching edges is fine)."""
    problems: list[str] = []
    for page in load_report(definition):
        seen: set[str] = set()
        for visual in page.visuals:
            folder = Path(visual.file).parent.name
            if visual.name != folder:
                problems.append(f"{visual.file}: name {visual.name!r} differs from its folder {folder!r}")
            if visual.name in seen:
                problems.append(f"{visual.file}: name {visual.name!r} used twice on page {page.name!r}")
            seen.add(visual.name)
            if visual.width <= 0 or visual.height <= 0:
                problems.append(f"{visual.file}: size {visual.width}x{visual.height} is not positive")
            if (
                visual.x < 0
                or visual.y < 0
                or visual.x + visual.width > page.width
                or visual.y + visual.height > page.height
            ):
                problems.append(
                    f"{visual.file}: box ({visual.x}, {visual.y}, {visual.width}x{visual.height}) leaves the "
                    f"{page.width}x{page.height} page"
                )
        for a, b in _pairs(page.visuals):
            if a.x < b.x + b.width and b.x < a.x + a.width and a.y < b.y + b.height and b.y < a.y + a.height:
                problems.append(f"page {page.name!r}: {a.name!r} and {b.name!r} overlap")
    return problems


def _pairs(visuals: tuple[Visual, ...]) -> Iterator[tuple[Visual, Visual]]:
    for i, a in enumerate(visuals):
        for b in visuals[i + 1 :]:
            yield a, b
