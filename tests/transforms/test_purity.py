"""``transforms/`` stays pure: no IO, no settings or environment, no session creation, no outside imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import transforms

SOURCES = sorted(Path(transforms.__file__).parent.glob("*.py"))
FORBIDDEN_PACKAGES = {"infra", "flows", "ingestion", "pydantic_settings", "dotenv", "os", "requests", "httpx"}
ALLOWED_OUTSIDE = {
    "__future__",
    "collections",
    "dataclasses",
    "datetime",
    "functools",
    "operator",
    "pathlib",  # PurePosixPath in the contract: path arithmetic, no IO (open() is refused below)
    "re",
    "typing",
}
# Attributes that mean IO, environment lookups or a new session.
FORBIDDEN_ATTRIBUTES = {
    "builder",
    "getOrCreate",
    "getActiveSession",
    "environ",
    "getenv",
    "read",
    "readStream",
    "write",
    "writeStream",
    "saveAsTable",
    "insertInto",
    "toPandas",
    "table",
}
FORBIDDEN_CALLS = {"open", "input", "get_settings", "Settings", "build_spark_session"}


def imported_roots(tree: ast.AST) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_scan_sees_the_package() -> None:
    names = {p.name for p in SOURCES}
    assert {"silver.py", "gold.py", "expectations.py", "bronze_schemas.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_transforms_import_only_pyspark_the_stdlib_and_themselves(path: Path) -> None:
    roots = imported_roots(ast.parse(path.read_text()))
    assert not roots & FORBIDDEN_PACKAGES, path.name
    assert roots <= {"pyspark", "transforms"} | ALLOWED_OUTSIDE, (path.name, roots)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_transforms_do_no_io_and_create_no_session(path: Path) -> None:
    tree = ast.parse(path.read_text())
    attributes = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert not attributes & FORBIDDEN_ATTRIBUTES, (path.name, attributes & FORBIDDEN_ATTRIBUTES)
    assert not called & FORBIDDEN_CALLS, (path.name, called & FORBIDDEN_CALLS)
