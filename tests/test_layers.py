"""Imports point down, for every layer of the house (README "What is in the box").

    flows/ (Prefect flows, the CLI)
      -> ingestion/, powerbi/, infra/local/ (started as processes by the CLI)
        -> transforms/ (pure; ingestion and infra/local may take only the data contract from it, the
           dashboard also the catalog)
          -> infra/ (settings, zones, storage, Spark factory, Event Hubs client)

``transforms`` imports nothing of ours; nothing but the CLI and tests imports ``infra.local``; notebooks
use ``transforms`` and the seams only. Every import is read, also those inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = ("flows", "ingestion", "transforms", "infra", "powerbi", "bench", "tests")
SEAMS = {"infra.settings", "infra.zones", "infra.storage", "infra.spark", "infra.messaging", "infra.identity"}


def module_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def imports_of(path: Path) -> set[str]:
    """Every module of ours that ``path`` imports (absolute imports; ours are never relative)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import"
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] in OURS}


def sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def allowed(importer: str, imported: str) -> bool:
    top = importer.split(".")[0]
    target = imported.split(".")[0]
    is_local = imported.startswith("infra.local")
    if imported.startswith(importer.split(".")[0] + ".") and top != "infra":
        return True  # within the same package
    if importer.startswith("infra.local.dashboard"):
        # The dashboard reads what the catalog names (tables, zones), as the Power BI tooling does.
        return target == "infra" or imported.startswith(("transforms.catalog", "transforms.contract"))
    if importer.startswith("infra.local"):
        # The local services: infra, the simulated source's generator and the data contract.
        return target == "infra" or imported.startswith(("ingestion.synthetic", "transforms.contract"))
    if top == "infra":
        return target == "infra" and not is_local
    if top == "transforms":
        return target == "transforms"
    if top == "ingestion":
        return (target == "infra" and not is_local) or imported.startswith("transforms.contract")
    if top == "powerbi":
        return (target == "infra" and not is_local) or target == "transforms"
    if top == "flows":
        return not is_local or importer in ("flows.cli", "flows.powerbi_cli")
    return True


LAYERED = sources("flows", "ingestion", "transforms", "infra", "powerbi")


def test_the_scan_sees_every_layer() -> None:
    tops = {module_of(p).split(".")[0] for p in LAYERED}
    assert tops == {"flows", "ingestion", "transforms", "infra", "powerbi"}
    assert any(module_of(p).startswith("infra.local.dfs") for p in LAYERED)


@pytest.mark.parametrize("path", LAYERED, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down(path: Path) -> None:
    importer = module_of(path)
    wrong = sorted(name for name in imports_of(path) if not allowed(importer, name))
    assert not wrong, f"{importer} imports {wrong}, against the layering in tests/test_layers.py"


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.py")), ids=lambda p: p.name)
def test_notebooks_use_transforms_and_the_seams_only(path: Path) -> None:
    wrong = sorted(
        name
        for name in imports_of(path)
        if not name.startswith("transforms")
        and not any(name == s or name.startswith(s + ".") for s in SEAMS)
        and name not in {"infra"}
    )
    assert not wrong, f"notebook {path.name} imports {wrong}"


def test_a_wrong_arrow_is_caught() -> None:
    assert not allowed("transforms.gold", "infra.settings")
    assert not allowed("infra.storage.lake", "flows.cli")
    assert not allowed("ingestion.batch", "infra.local.launcher")
    assert not allowed("flows.medallion", "infra.local.services")
    assert allowed("flows.cli", "infra.local.services")
    assert allowed("ingestion.batch", "transforms.contract")
    assert not allowed("ingestion.batch", "transforms.silver")
