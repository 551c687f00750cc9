"""Write the synthetic sources to a folder, and serve the same records in memory.

`generate` writes the files of docs/data-contract.md plus ``manifest.csv`` and ``summary.json``. The
iterators (`iter_records`, `iter_reviews`, `iter_app_events`) yield exactly the records of one day's file,
bad ones included, for the Event Hubs producer and the HTTP source. `clean_records` yields what silver must
keep of an entity over all days: every record without a defect, plus late events (kept by silver). Tests
that compute expected gold figures can use it, or re-derive the same from the files and the manifest.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ingestion.synthetic.model import Batch, Config, Row, World
from transforms import contract as c

ProgressCallback = Callable[[str, date, int], None]
"""Called after each file is written with (entity, batch date, rows written)."""

_CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class BatchCount:
    """Rows of one entity's file on one batch date: all, clean, and bad by defect kind."""

    entity: str
    batch_date: date
    rows: int
    defects: dict[str, int]

    @property
    def bad(self) -> int:
        """Records listed in the manifest (late events included, although silver keeps them)."""
        return sum(self.defects.values())

    @property
    def clean(self) -> int:
        """Rows without a defect."""
        return self.rows - self.bad


@dataclass(frozen=True)
class GenerationSummary:
    """What `generate` wrote: configuration, counts per entity and batch date, files and bytes."""

    out: Path
    config: Config
    counts: tuple[BatchCount, ...]
    files: tuple[Path, ...] = field(repr=False)
    bytes_written: int

    def __str__(self) -> str:
        bad = sum(count.bad for count in self.counts)
        return (
            f"{self.rows():,} rows ({bad:,} bad) for {self.config.days} day(s) at SF{self.config.sf:g}, "
            f"seed {self.config.seed}: {len(self.files)} files, {self.bytes_written / 1e6:,.1f} MB"
        )

    def rows(self, entity: str | None = None) -> int:
        """Rows written for ``entity`` over all days (all entities when None)."""
        return sum(count.rows for count in self.counts if entity is None or count.entity == entity)

    def to_json(self) -> dict[str, Any]:
        """The content of ``summary.json`` (no timings or paths, so that it is deterministic too)."""
        entities: dict[str, Any] = {}
        for entity in c.ENTITIES:
            counts = [count for count in self.counts if count.entity == entity]
            entities[entity] = {
                **_count_json(counts),
                "by_date": {count.batch_date.isoformat(): _count_json([count]) for count in counts},
            }
        return {
            "sf": self.config.sf,
            "seed": self.config.seed,
            "days": self.config.days,
            "bad_fraction": self.config.bad_fraction,
            "start": self.config.start.isoformat(),
            # Only with the option set, so that summaries without it stay as they were.
            **(
                {"anomaly_date": anomaly.isoformat(), "anomaly_factor": self.config.anomaly_factor}
                if (anomaly := self.config.anomaly_date)
                else {}
            ),
            "total_rows": self.rows(),
            "entities": entities,
        }


def _count_json(counts: list[BatchCount]) -> dict[str, Any]:
    defects: dict[str, int] = {}
    for count in counts:
        for kind, number in count.defects.items():
            defects[kind] = defects.get(kind, 0) + number
    rows = sum(count.rows for count in counts)
    bad = sum(defects.values())
    ordered = (
        {kind: defects[kind] for kind, _ in c.DEFECTS[counts[0].entity] if kind in defects} if counts else {}
    )
    return {"rows": rows, "clean": rows - bad, "bad": bad, "defects": ordered}


def iter_batches(config: Config, entities: frozenset[str] = frozenset(c.ENTITIES)) -> Iterator[Batch]:
    """Every batch of ``entities`` day by day, in `contract.ENTITIES` order (with what they depend on)."""
    world = World(config)
    for day in range(config.days):
        customers = world.customers(day)
        products = world.products(day)
        if c.CUSTOMERS in entities:
            yield customers
        if c.PRODUCTS in entities:
            yield products
        if entities & {c.ORDERS, c.ORDER_LINES, c.REVIEWS}:
            orders, facts = world.orders(day)
            if c.ORDERS in entities:
                yield orders
            lines, purchases = world.order_lines(day, facts)
            if c.ORDER_LINES in entities:
                yield lines
            if c.REVIEWS in entities:
                yield world.reviews(day, purchases)
        if c.APP_EVENTS in entities:
            yield world.app_events(day)
        if c.FINANCE_ENTRIES in entities:
            yield world.finance_entries(day)


def generate(
    out: Path,
    sf: float = 0.01,
    seed: int = 7,
    days: int = 1,
    bad_fraction: float = 0.02,
    start: date = date(2026, 1, 1),
    progress: ProgressCallback | None = None,
    anomaly_date: date | None = None,
    anomaly_factor: int = 10,
) -> GenerationSummary:
    """Write the synthetic sources for ``days`` batch dates from ``start`` into ``out``.

    Same ``(sf, seed, days, bad_fraction, start)`` -> byte-identical files. Files of this run are
    overwritten; other files in ``out`` are left alone. Returns the counts also written to
    ``summary.json``; ``manifest.csv`` lists every deliberately bad record. ``anomaly_date`` makes that
    UTC date a revenue spike (order-line quantities x ``anomaly_factor``), which gold's
    ``mart_revenue_anomalies`` must flag.
    """
    config = Config(
        sf=sf,
        seed=seed,
        days=days,
        bad_fraction=bad_fraction,
        start=start,
        anomaly_date=anomaly_date,
        anomaly_factor=anomaly_factor,
    )
    out = Path(out)
    counts: list[BatchCount] = []
    files: list[Path] = []
    manifest: list[tuple[str, str, str, str]] = []
    fields = {entity: dict(kinds) for entity, kinds in c.DEFECTS.items()}
    for batch in iter_batches(config):
        batch_date = config.batch_date(batch.day)
        path = out / c.relative_path(batch.entity, batch_date)
        _write_batch(path, batch)
        files.append(path)
        defects: dict[str, int] = {}
        key = _key_getter(batch.entity)
        for row, defect in zip(batch.rows, batch.defects, strict=True):
            if defect is not None:
                defects[defect] = defects.get(defect, 0) + 1
                manifest.append((batch.entity, key(row), defect, fields[batch.entity][defect]))
        counts.append(BatchCount(batch.entity, batch_date, len(batch.rows), defects))
        if progress is not None:
            progress(batch.entity, batch_date, len(batch.rows))
    manifest_path = out / c.MANIFEST_FILE
    with manifest_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(c.MANIFEST_COLUMNS)
        writer.writerows(manifest)
    summary = GenerationSummary(out, config, tuple(counts), (), 0)
    summary_path = out / c.SUMMARY_FILE
    summary_path.write_text(json.dumps(summary.to_json(), indent=2) + "\n", encoding="utf-8")
    files += [manifest_path, summary_path]
    written = sum(path.stat().st_size for path in files)
    return GenerationSummary(out, config, tuple(counts), tuple(files), written)


def _key_getter(entity: str) -> Callable[[Row], str]:
    """The manifest's record_id of a row: its business key, ``<order_id>#<line_number>`` for lines."""
    if entity == c.ORDER_LINES:
        return lambda row: f"{row[0]}#{row[1]}"
    return lambda row: row[0] or ""


def _write_batch(path: Path, batch: Batch) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = c.COLUMNS[batch.entity]
    with path.open("w", encoding="utf-8", newline="") as handle:
        if batch.entity in c.CSV_ENTITIES:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(columns)
            for begin in range(0, len(batch.rows), _CHUNK_ROWS):
                writer.writerows(batch.rows[begin : begin + _CHUNK_ROWS])
            return
        line = _event_line if batch.entity == c.APP_EVENTS else _json_line(columns)
        for begin in range(0, len(batch.rows), _CHUNK_ROWS):
            handle.write("".join([line(row) for row in batch.rows[begin : begin + _CHUNK_ROWS]]))


def _json_line(columns: tuple[str, ...]) -> Callable[[Row], str]:
    def line(row: Row) -> str:
        return (
            json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False, separators=(",", ":")) + "\n"
        )

    return line


def _event_line(row: Row) -> str:
    """One app event as JSON; its values are ids, enumerations and timestamps, which need no escaping."""
    event_id, session_id, customer_id, event_type, product_id, device, occurred_at = row
    return (
        f'{{"event_id":{_quoted(event_id)},"session_id":"{session_id}","customer_id":{_quoted(customer_id)},'
        f'"event_type":"{event_type}","product_id":{_quoted(product_id)},"device":"{device}",'
        f'"occurred_at":"{occurred_at}"}}\n'
    )


def _quoted(value: str | None) -> str:
    return "null" if value is None else f'"{value}"'


def _as_record(entity: str, row: Row) -> dict[str, Any]:
    """A row in contract form: CSV values as the strings written (None for empty), JSON values as typed."""
    columns = c.COLUMNS[entity]
    if entity in c.CSV_ENTITIES:
        return {
            column: None if value is None else str(value) for column, value in zip(columns, row, strict=True)
        }
    return dict(zip(columns, row, strict=True))


def iter_records(
    entity: str,
    sf: float = 0.01,
    seed: int = 7,
    day: int = 0,
    bad_fraction: float = 0.02,
    start: date = date(2026, 1, 1),
) -> Iterator[dict[str, Any]]:
    """The records of ``entity``'s file on ``day``, bad ones included, in file order, as dicts."""
    if entity not in c.ENTITIES:
        raise ValueError(f"unknown entity {entity!r}; expected one of {c.ENTITIES}")
    if day < 0:
        raise ValueError(f"day must be >= 0, got {day}")
    config = Config(sf=sf, seed=seed, days=day + 1, bad_fraction=bad_fraction, start=start)
    batch = next(batch for batch in iter_batches(config, frozenset({entity})) if batch.day == day)
    for row in batch.rows:
        yield _as_record(entity, row)


def iter_reviews(
    sf: float = 0.01,
    seed: int = 7,
    day: int = 0,
    bad_fraction: float = 0.02,
    start: date = date(2026, 1, 1),
) -> Iterator[dict[str, Any]]:
    """The reviews of ``day`` exactly as in ``reviews/<date>/reviews.jsonl`` (for the Event Hubs producer)."""
    return iter_records(c.REVIEWS, sf, seed, day, bad_fraction, start)


def iter_app_events(
    sf: float = 0.01,
    seed: int = 7,
    day: int = 0,
    bad_fraction: float = 0.02,
    start: date = date(2026, 1, 1),
) -> Iterator[dict[str, Any]]:
    """The app events of ``day`` exactly as in ``app_events/<date>/app_events.jsonl`` (for the HTTP API)."""
    return iter_records(c.APP_EVENTS, sf, seed, day, bad_fraction, start)


def clean_records(
    entity: str,
    sf: float = 0.01,
    seed: int = 7,
    days: int = 1,
    bad_fraction: float = 0.02,
    start: date = date(2026, 1, 1),
) -> Iterator[tuple[date, dict[str, Any]]]:
    """(batch date, record) of every record silver keeps: clean ones and late events, over all days.

    Records are raw as written (silver still trims and re-cases country, region and e-mail); customers
    re-sent on later days appear once per version.
    """
    config = Config(sf=sf, seed=seed, days=days, bad_fraction=bad_fraction, start=start)
    for batch in iter_batches(config, frozenset({entity})):
        batch_date = config.batch_date(batch.day)
        for row, defect in zip(batch.rows, batch.defects, strict=True):
            if defect is None or defect in c.KEPT_DEFECTS:
                yield batch_date, _as_record(entity, row)
