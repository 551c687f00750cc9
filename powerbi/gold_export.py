"""Copy the current snapshot of the gold Delta tables from the lake to a local folder (for Power BI Desktop).

A Delta folder holds more Parquet files than its current version uses: an overwrite or a MERGE removes files
from the log, but they stay on storage until VACUUM. Copying the folder as it is would work for Delta readers
but wastes space, and copying only ``*.parquet`` without the log would make a naive reader combine stale
rows. So each table is copied as a *valid Delta table that holds exactly one snapshot*: the ``_delta_log``
(JSON commits, checkpoints) and only the data files the newest version references. ``deltalake.DeltaTable``
and Power BI's ``DeltaLake.Table(Folder.Contents(...))`` then read the same rows as the lake's current
version; time travel to older versions of the copy is not possible (their files are not copied).

Reads go through the project's lake client (:class:`infra.storage.lake.Lake`), so the same code exports
from the local DFS endpoint and from ADLS Gen2.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from infra.settings import Settings, Zone
from transforms.catalog import OPS_TABLES

DELTA_LOG = "_delta_log"
# Gold's operational tables the model reads too (``_ops/dq_results``: the Data Quality page); the others
# (profiles, gold_builds) are the pipeline's own and not part of the report.
MODEL_OPS_TABLES = ("dq_results",)
GOLD_OPS_TABLES = tuple(f"_ops/{name}" for name in MODEL_OPS_TABLES if OPS_TABLES[name] == "gold")


class GoldReader(Protocol):
    """What the export needs from storage: file listing and reads inside the gold zone."""

    def files(self, zone: Zone, prefix: str = "", suffix: str = "") -> list[Any]: ...  # entries with .path

    def read_bytes(self, zone: Zone, path: str) -> bytes: ...


def export_gold(
    settings: Settings,
    out_dir: Path,
    tables: list[str] | None = None,
    *,
    lake: GoldReader | None = None,
) -> dict[str, int]:
    """Copy the current snapshot of each gold table to ``out_dir/<table>``; returns row counts per table.

    ``tables`` defaults to every Delta table of the gold zone (folders with a ``_delta_log``) and gold's
    operational tables (``_ops/dq_results``, copied to ``out_dir/_ops/dq_results``); other ``_``-folders are
    skipped. An existing ``out_dir/<table>`` is replaced only once its new copy is
    complete. ``lake`` replaces the lake client (tests); by default one is built from ``settings``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if lake is None:
        from infra.storage.lake import Lake

        with Lake(settings) as client:
            return _export(client, out_dir, tables)
    return _export(lake, out_dir, tables)


def gold_table_names(lake: GoldReader) -> list[str]:
    """Top-level gold folders that hold a Delta log, then the operational tables present, sorted."""
    names = set()
    for entry in lake.files("gold", "", ""):
        parts = entry.path.split("/")
        if len(parts) >= 3 and parts[1] == DELTA_LOG and not parts[0].startswith(("_", ".")):
            names.add(parts[0])
        if len(parts) >= 4 and parts[2] == DELTA_LOG and f"{parts[0]}/{parts[1]}" in GOLD_OPS_TABLES:
            names.add(f"{parts[0]}/{parts[1]}")
    return sorted(names)


def _export(lake: GoldReader, out_dir: Path, tables: list[str] | None) -> dict[str, int]:
    names = gold_table_names(lake) if tables is None else list(tables)
    counts: dict[str, int] = {}
    for name in names:
        if name not in GOLD_OPS_TABLES and (not name or "/" in name or name.startswith(("_", "."))):
            raise ValueError(f"not a gold table name: {name!r}")
        counts[name] = export_table(lake, name, out_dir / name)
    return counts


def export_table(lake: GoldReader, table: str, destination: Path) -> int:
    """Copy one gold table's log and current data files to ``destination``; returns its row count."""
    from deltalake import DeltaTable

    log_entries = lake.files("gold", f"{table}/{DELTA_LOG}/")
    if not log_entries:
        raise FileNotFoundError(f"gold/{table} is not a Delta table (no {DELTA_LOG})")
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}-", dir=destination.parent))
    try:
        for entry in log_entries:
            relative = entry.path[len(table) + 1 :]
            _write(staging / relative, lake.read_bytes("gold", entry.path))
        snapshot = DeltaTable(str(staging))
        if snapshot.protocol().min_reader_version > 1 or (snapshot.protocol().reader_features or []):
            # Deletion vectors, column mapping, ...: Power BI cannot read them, and their side files
            # would need copying too.
            raise ValueError(f"gold/{table} uses reader features Power BI cannot read: {snapshot.protocol()}")
        for relative in _data_files(snapshot, staging):
            _write(staging / relative, lake.read_bytes("gold", f"{table}/{relative}"))
        rows = DeltaTable(str(staging)).to_pyarrow_dataset().count_rows()
        if destination.exists():
            shutil.rmtree(destination)
        staging.rename(destination)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return rows


def _data_files(snapshot: Any, root: Path) -> list[str]:  # a delta-rs DeltaTable (no stubs)
    """Paths (relative to the table folder, as stored) of the data files of the snapshot's version."""
    base = root.resolve()
    relatives = []
    for uri in snapshot.file_uris():
        path = Path(unquote(urlparse(uri).path) if uri.startswith("file:") else uri).resolve()
        try:
            relatives.append(path.relative_to(base).as_posix())
        except ValueError as exc:
            raise ValueError(f"data file outside the table folder (absolute path in the log): {uri}") from exc
    return relatives


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
