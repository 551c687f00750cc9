"""Writes generator output into a bronze folder in the formats the ingestion flows produce.

Medallion tests start from here so they do not depend on the Event Hubs and HTTP paths: batch CSV copied
as is, reviews as Event Hubs Capture Avro files, app_events as Parquet.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq

from infra.local.eventhubs import capture
from transforms.contract import APP_EVENTS, COLUMNS, CSV_ENTITIES

CAPTURE_SCHEMA = fastavro.parse_schema(capture.CAPTURE_SCHEMA)
PARTITIONS = 4
APP_EVENT_COLUMNS = COLUMNS[APP_EVENTS]


def partition_for(key: str | None) -> int:
    return int(hashlib.md5((key or "").encode()).hexdigest(), 16) % PARTITIONS


def write_bronze(
    generated: Path, bronze: Path, day_folder: str, sequence_start: dict[int, int] | None = None
) -> None:
    """Copy one generated day (``yyyy-mm-dd``) into ``bronze`` like the ingestion flows lay it out."""
    for entity in sorted(CSV_ENTITIES):
        source = generated / "batch" / entity / day_folder / f"{entity}.csv"
        target = bronze / entity / f"ingest_date={day_folder}" / f"{entity}.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    write_capture(
        generated / "reviews" / day_folder / "reviews.jsonl", bronze / "reviews", day_folder, sequence_start
    )
    _write_app_events(
        generated / "app_events" / day_folder / "app_events.jsonl", bronze / "app_events", day_folder
    )


def write_capture(source: Path, target: Path, day_folder: str, sequence_start: dict[int, int] | None) -> None:
    enqueued = datetime.fromisoformat(day_folder).replace(hour=23, minute=59, tzinfo=UTC)
    per_partition: dict[int, list[dict]] = {p: [] for p in range(PARTITIONS)}
    for line in source.read_text().splitlines():
        review = json.loads(line)
        partition = partition_for(review.get("product_id"))
        records = per_partition[partition]
        sequence = (sequence_start or {}).get(partition, 0) + len(records)
        records.append(
            {
                "SequenceNumber": sequence,
                "Offset": str(sequence * 1000),
                "EnqueuedTimeUtc": capture.format_enqueued_time(int(enqueued.timestamp() * 1000)),
                "SystemProperties": {
                    "x-opt-enqueued-time": int(enqueued.timestamp() * 1000),
                    "x-opt-partition-key": review.get("product_id") or "",
                },
                "Properties": {},
                "Body": line.encode(),
            }
        )
    for partition, records in per_partition.items():
        if not records:
            continue
        path = (
            target
            / "emulatorNs1"
            / "product-reviews"
            / str(partition)
            / enqueued.strftime("%Y/%m/%d/%H/%M/%S.avro")
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            fastavro.writer(handle, CAPTURE_SCHEMA, records, codec="null")


def _write_app_events(source: Path, target: Path, day_folder: str) -> None:
    rows = [json.loads(line) for line in source.read_text().splitlines()]
    by_month: dict[str, list[dict]] = {}
    for row in rows:
        by_month.setdefault(str(row.get("occurred_at") or "")[:7] or "unknown", []).append(row)
    for event_month, events in sorted(by_month.items()):
        table = pa.table(
            {
                c: pa.array([None if e.get(c) is None else str(e[c]) for e in events], pa.string())
                for c in APP_EVENT_COLUMNS
            }
        )
        path = target / f"event_month={event_month}" / f"part-{day_folder}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
