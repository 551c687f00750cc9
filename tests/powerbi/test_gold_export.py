"""export_gold copies the current snapshot of each gold table (log + live files only) to a local folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from infra.settings import Settings
from powerbi.gold_export import export_gold, gold_table_names


@dataclass(frozen=True)
class Entry:
    path: str


class FolderLake:
    """The two lake-client calls export_gold uses, over ``<root>/<zone>/...`` on local disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def files(self, zone: str, prefix: str = "", suffix: str = "") -> list[Entry]:
        base = self.root / zone
        found = [p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file()]
        return [Entry(p) for p in sorted(found) if p.startswith(prefix) and p.endswith(suffix)]

    def read_bytes(self, zone: str, path: str) -> bytes:
        return (self.root / zone / path).read_bytes()


def two_versions(table_dir: Path) -> pa.Table:
    """Version 0 with three rows, overwritten by version 1 with two: version 0's file stays on disk."""
    write_deltalake(str(table_dir), pa.table({"k": [1, 2, 3], "v": ["a", "b", "c"]}))
    current = pa.table({"k": [7, 8], "v": ["x", "y"]})
    write_deltalake(str(table_dir), current, mode="overwrite")
    return current


def parquet_files(table_dir: Path) -> list[Path]:
    return sorted(table_dir.rglob("*.parquet"))


def test_exports_only_the_current_snapshot(tmp_path: Path) -> None:
    lake_root = tmp_path / "lake"
    current = two_versions(lake_root / "gold" / "fact_sales")
    write_deltalake(str(lake_root / "gold" / "_ops" / "dq_results"), pa.table({"x": [1]}))
    write_deltalake(str(lake_root / "gold" / "_ops" / "scratch"), pa.table({"x": [1]}))  # not modelled
    (lake_root / "gold" / "notes").mkdir()
    (lake_root / "gold" / "notes" / "readme.txt").write_text("not a table")
    assert len(parquet_files(lake_root / "gold" / "fact_sales")) == 2

    out = tmp_path / "out"
    counts = export_gold(Settings(), out, lake=FolderLake(lake_root))

    assert counts == {"fact_sales": 2, "_ops/dq_results": 1}
    assert DeltaTable(str(out / "_ops" / "dq_results")).to_pyarrow_table() == pa.table({"x": [1]})
    copy = DeltaTable(str(out / "fact_sales"))
    assert copy.version() == 1
    assert copy.to_pyarrow_table().sort_by("k") == current
    assert len(parquet_files(out / "fact_sales")) == 1
    assert sorted(p.name for p in out.iterdir()) == ["_ops", "fact_sales"]
    assert sorted(p.name for p in (out / "_ops").iterdir()) == ["dq_results"]


def test_export_replaces_an_older_copy_and_partitioned_paths_survive(tmp_path: Path) -> None:
    lake_root = tmp_path / "lake"
    table = pa.table({"region": ["EU West", "US"], "n": [1, 2]})
    write_deltalake(str(lake_root / "gold" / "mart_x"), table, partition_by=["region"])
    out = tmp_path / "out"
    (out / "mart_x" / "stale").mkdir(parents=True)
    assert export_gold(Settings(), out, ["mart_x"], lake=FolderLake(lake_root)) == {"mart_x": 2}
    assert DeltaTable(str(out / "mart_x")).to_pyarrow_table().sort_by("n").column("n").to_pylist() == [1, 2]
    assert not (out / "mart_x" / "stale").exists()


def test_unknown_or_bad_table_names_fail(tmp_path: Path) -> None:
    lake = FolderLake(tmp_path)
    (tmp_path / "gold").mkdir()
    assert gold_table_names(lake) == []
    with pytest.raises(FileNotFoundError, match="gold/missing is not a Delta table"):
        export_gold(Settings(), tmp_path / "out", ["missing"], lake=lake)
    with pytest.raises(ValueError, match="not a gold table name"):
        export_gold(Settings(), tmp_path / "out", ["../etc"], lake=lake)
    with pytest.raises(ValueError, match="not a gold table name: '_ops/scratch'"):
        export_gold(Settings(), tmp_path / "out", ["_ops/scratch"], lake=lake)


@pytest.mark.services
def test_exports_from_the_lake_over_dfs(lake_stack: Settings, tmp_path: Path) -> None:
    from infra.storage.lake import Lake

    local = tmp_path / "written" / "fact_reviews"
    current = two_versions(local)
    with Lake(lake_stack) as lake:
        for file in sorted(p for p in local.rglob("*") if p.is_file()):
            lake.upload_file("gold", f"pbi_export_test/{file.relative_to(local).as_posix()}", file)
    try:
        counts = export_gold(lake_stack, tmp_path / "out", ["pbi_export_test"])
    finally:
        with Lake(lake_stack) as lake:
            lake.delete("gold", "pbi_export_test", recursive=True)
    assert counts == {"pbi_export_test": 2}
    copy = DeltaTable(str(tmp_path / "out" / "pbi_export_test"))
    assert copy.to_pyarrow_table().sort_by("k") == current
    assert len(parquet_files(tmp_path / "out" / "pbi_export_test")) == 1
