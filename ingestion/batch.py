"""Batch CSV path: drop generated CSV files into landing, copy new ones to bronze like an ADF copy activity.

Layout (zone-relative):

* landing ``batch/<entity>/<yyyy-mm-dd>/<file>.csv`` — what the sources drop, never changed by us;
* bronze ``<entity>/ingest_date=<yyyy-mm-dd>/<file>.csv`` — the same bytes, with the ingestion facts
  (``ingested_at``, ``source_file``, ``load_id``, ``md5``) as DataLake file metadata; a later version of the
  same landing file (other MD5) is kept beside it as ``<stem>.<md5[:12]>.csv``;
* bronze ``_ops/manifest/batch/<entity>/<date>/<file>/<md5>.json`` — the copy manifest, one small JSON per
  copied (or rejected) file version: source, size, MD5, load_id, copied_at, destination, status;
* landing ``_rejected/batch/<entity>/<date>/<file>`` + ``<file>.reason.json`` — files whose header does
  not match the entity's contract.

The manifest entry is written only after the copy, and a copy whose destination already holds the same MD5
is recorded without copying again, so a run that stops half-way is finished by the next one and no file is
copied twice.
"""

from __future__ import annotations

import csv
import io
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from infra import zones
from infra.storage.lake import Lake
from ingestion.common import iso_utc, json_bytes, md5_hex, utc_now
from transforms.contract import COLUMNS, CSV_ENTITIES

LANDING_PREFIX = zones.BATCH_LANDING
REJECTED_PREFIX = zones.BATCH_REJECTED
MANIFEST_PREFIX = zones.BATCH_MANIFEST
CSV_COLUMNS: dict[str, tuple[str, ...]] = {entity: COLUMNS[entity] for entity in sorted(CSV_ENTITIES)}
"""The header each batch entity's CSV must carry, in order (docs/data-contract.md)."""

CopyStatus = Literal["copied", "recovered", "unchanged", "rejected"]
COPY_STATUSES: tuple[CopyStatus, ...] = ("copied", "recovered", "unchanged", "rejected")


@dataclass(frozen=True)
class LandingFile:
    """One file under ``landing/batch/``; ``path`` is relative to the landing zone."""

    path: str
    size: int
    etag: str | None


@dataclass(frozen=True)
class ManifestEntry:
    """One line of the copy manifest: one version (MD5) of one landing file, copied or rejected."""

    source: str
    md5: str
    size: int
    status: Literal["copied", "rejected"]
    destination: str
    load_id: str
    copied_at: str
    source_etag: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class CopyOutcome:
    """What one run did with one landing file (one row of the flow's report)."""

    source: str
    status: CopyStatus
    destination: str
    md5: str
    size: int
    reason: str | None = None


@dataclass(frozen=True)
class LandingPlace:
    """Where a landing file sits: ``batch/<entity>/<date>/<name>``."""

    entity: str
    batch_date: str
    name: str


# --- generate_batch -------------------------------------------------------------------------------
def generated_csv_files(out: Path) -> list[Path]:
    """The batch CSV files a generator run wrote under ``out`` (``batch/<entity>/<date>/<entity>.csv``)."""
    return sorted((out / LANDING_PREFIX).glob("*/*/*.csv"))


def drop_file(lake: Lake, out: Path, file: Path) -> tuple[str, bool]:
    """Upload one generated file to ``landing/batch/...`` if the bytes differ: (path, uploaded)."""
    relative = file.relative_to(out).as_posix()
    data = file.read_bytes()
    existing = lake.properties("landing", relative)
    same_size = existing is not None and existing.size == len(data)
    if same_size and md5_hex(lake.read_bytes("landing", relative)) == md5_hex(data):
        return relative, False
    lake.write_bytes("landing", relative, data)
    return relative, True


# --- copy_batch_to_bronze -------------------------------------------------------------------------
def list_landing_files(lake: Lake) -> list[LandingFile]:
    """Every file under ``landing/batch/``, sorted by path."""
    return [LandingFile(e.path, e.size, e.etag) for e in lake.files("landing", LANDING_PREFIX)]


def read_manifest(lake: Lake, workers: int = 8) -> list[ManifestEntry]:
    """Every entry of the copy manifest (one JSON file per copied file version)."""
    paths = [e.path for e in lake.files("bronze", MANIFEST_PREFIX, suffix=".json")]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        documents = list(pool.map(lambda p: lake.read_bytes("bronze", p), paths))
    return [ManifestEntry(**json.loads(doc)) for doc in documents]


def entries_by_source(entries: list[ManifestEntry]) -> dict[str, list[ManifestEntry]]:
    """Manifest entries grouped by landing path."""
    grouped: dict[str, list[ManifestEntry]] = {}
    for entry in entries:
        grouped.setdefault(entry.source, []).append(entry)
    return grouped


def place_of(source: str) -> LandingPlace | None:
    """Entity, date and name of a landing path; None if it is not ``batch/<entity>/<date>/<name>``."""
    parts = PurePosixPath(source).parts
    if len(parts) != 4 or parts[0] != LANDING_PREFIX:
        return None
    return LandingPlace(entity=parts[1], batch_date=parts[2], name=parts[3])


def rejection_reason(source: str, data: bytes) -> str | None:
    """Why a landing file cannot go to bronze (None if it can): layout, entity, empty file or header."""
    place = place_of(source)
    if place is None:
        return f"unexpected location {source!r}: expected batch/<entity>/<yyyy-mm-dd>/<file>.csv"
    if place.entity not in CSV_COLUMNS:
        return f"unknown entity {place.entity!r}: expected one of {', '.join(CSV_COLUMNS)}"
    if not place.name.endswith(".csv"):
        return f"not a CSV file: {place.name!r}"
    first_line = data.split(b"\n", 1)[0]
    if not first_line.strip():
        return "empty file: no header row"
    try:
        header = tuple(next(csv.reader(io.StringIO(first_line.decode("utf-8-sig").rstrip("\r")))))
    except (UnicodeDecodeError, csv.Error) as exc:
        return f"unreadable header: {exc}"
    expected = CSV_COLUMNS[place.entity]
    if header != expected:
        return f"header mismatch for {place.entity}: expected {','.join(expected)}; found {','.join(header)}"
    return None


def bronze_destination(place: LandingPlace, md5: str, first_version: bool) -> str:
    """``<entity>/ingest_date=<date>/<name>``; later versions of the same file get ``.<md5[:12]>``."""
    name = place.name
    if not first_version:
        stem = PurePosixPath(name)
        name = f"{stem.stem}.{md5[:12]}{stem.suffix}"
    return f"{place.entity}/ingest_date={place.batch_date}/{name}"


def manifest_path(source: str, md5: str) -> str:
    return f"{MANIFEST_PREFIX}/{source.removeprefix(LANDING_PREFIX + '/')}/{md5}.json"


def rejected_path(source: str) -> str:
    return f"{REJECTED_PREFIX}/{source.removeprefix(LANDING_PREFIX + '/')}"


def copy_file(lake: Lake, file: LandingFile, known: list[ManifestEntry], load_id: str) -> CopyOutcome:
    """Copy one landing file to bronze unless this version is in the manifest already; reject a bad one.

    ``known`` are the manifest entries of this source. A file whose etag or MD5 is known is left alone.
    """
    for entry in known:
        if file.etag is not None and entry.source_etag == file.etag:
            return CopyOutcome(file.path, "unchanged", entry.destination, entry.md5, entry.size, entry.reason)
    data = lake.read_bytes("landing", file.path)
    md5 = md5_hex(data)
    for entry in known:
        if entry.md5 == md5:
            return CopyOutcome(file.path, "unchanged", entry.destination, md5, len(data), entry.reason)
    now = iso_utc(utc_now())
    reason = rejection_reason(file.path, data)
    if reason is not None:
        destination = rejected_path(file.path)
        lake.write_bytes_with_metadata(
            "landing",
            destination,
            data,
            {"source_file": f"landing/{file.path}", "load_id": load_id, "md5": md5},
        )
        facts = {"source": file.path, "md5": md5, "size": len(data), "reason": reason, "load_id": load_id}
        lake.write_bytes("landing", f"{destination}.reason.json", json_bytes(facts | {"rejected_at": now}))
        status: CopyStatus = "rejected"
    else:
        place = place_of(file.path)
        assert place is not None  # a file without a place is rejected above
        first_version = not any(entry.status == "copied" for entry in known)
        destination = bronze_destination(place, md5, first_version)
        existing = lake.properties("bronze", destination)
        if existing is not None and existing.metadata.get("md5") == md5:
            status = "recovered"  # copied by a run that stopped before its manifest entry
            now = existing.metadata.get("ingested_at", now)
        else:
            metadata = {
                "ingested_at": now,
                "source_file": f"landing/{file.path}",
                "load_id": load_id,
                "md5": md5,
            }
            lake.write_bytes_with_metadata("bronze", destination, data, metadata)
            status = "copied"
    entry = ManifestEntry(
        source=file.path,
        md5=md5,
        size=len(data),
        status="rejected" if status == "rejected" else "copied",
        destination=destination,
        load_id=load_id,
        copied_at=now,
        source_etag=file.etag,
        reason=reason,
    )
    lake.write_bytes("bronze", manifest_path(file.path, md5), json_bytes(asdict(entry)))
    return CopyOutcome(file.path, status, destination, md5, len(data), reason)


def outcome_rows(outcomes: list[CopyOutcome]) -> list[dict[str, object]]:
    """The report table: one row per landing file this run looked at (unchanged files left out)."""
    return [
        {
            "source": o.source,
            "status": o.status,
            "destination": o.destination,
            "size": o.size,
            "md5": o.md5,
            "reason": o.reason or "",
        }
        for o in outcomes
        if o.status != "unchanged"
    ]
