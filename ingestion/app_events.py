"""app_events path: pull the HTTP source page by page, land raw pages, keep a deduplicated Parquet bronze.

Layout (zone-relative):

* landing ``app_events/_watermark.json`` — ``since`` for the next pull: the latest ``received_at`` that is in
  bronze. It moves only after bronze is written, so a run that stops earlier is redone by the next one;
* landing ``app_events/<yyyy-mm-dd>/<offset>-<sha>.json`` — each page body exactly as received, under the
  date it was received; the name derives from the content, so landing the same page twice is one file;
* landing ``_rejected/app_events/<yyyy-mm-dd>/<sha>.json`` + ``.reason.json`` — a page that stayed malformed
  after the retries, with the request that produced it;
* bronze ``app_events/event_month=<yyyy-mm>/part-<load_id>.parquet`` — one file per event month (from
  ``occurred_at``; ``unknown`` when it is not a date) holding every event of that month ever pulled, strings
  as received plus ``_ingested_at``, ``_source_file``, ``_load_id``. A month, not a day: two years of events
  are 24 files rather than 730 tiny ones, and a daily pull rewrites the month it adds to (plus the month of
  any late event).

Until bronze is written, a pull's events wait in a local :class:`Spool` (Arrow files by event month, in a
temporary folder of the flow run): the flow holds no page's events after its task, and bronze is merged
one month at a time.

Deduplication is on ``(event_id, received_at)``: an event the API sends twice (a retried or overlapping page,
or the first event again after a restart from the watermark) is kept once, while a record the source itself
wrote twice (the contract's ``exact_duplicate``, received at two moments) stays for silver to count. Late
events land in their own (earlier) month partition, merged with what is there.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc
import pyarrow.parquet as pq

from infra import zones
from infra.settings import Settings
from infra.storage.lake import Lake
from ingestion.common import iso_utc, json_bytes, md5_hex, utc_now
from transforms.contract import APP_EVENTS, COLUMNS

LANDING_PREFIX = zones.APP_EVENTS_LANDING
WATERMARK_PATH = zones.APP_EVENTS_WATERMARK
REJECTED_PREFIX = zones.APP_EVENTS_REJECTED
BRONZE_PREFIX = zones.APP_EVENTS_BRONZE
PAGE_PATH = "/v1/app-events"

EVENT_COLUMNS: tuple[str, ...] = (*COLUMNS[APP_EVENTS], "received_at")
"""The fields of one served event: the data contract's columns plus the API's ``received_at``."""
DEDUPE_KEY: tuple[str, ...] = ("event_id", "received_at")
PAGE_SCHEMA = pa.schema([pa.field(column, pa.string()) for column in EVENT_COLUMNS])
"""One page's events, every value a string as received (or null)."""
BRONZE_SCHEMA = pa.schema(
    [
        *PAGE_SCHEMA,
        pa.field("_ingested_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("_source_file", pa.string(), nullable=False),
        pa.field("_load_id", pa.string(), nullable=False),
    ]
)
"""Bronze app_events: one row per event the API sent (deduplicated on ``DEDUPE_KEY``); ``event_month`` is the
partition folder, not a column."""
UNKNOWN_MONTH = "unknown"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


class ApiError(RuntimeError):
    """The app_events API answered something the client cannot use."""


class TransientApiError(ApiError):
    """Worth retrying: 429, 5xx, a timeout, a connection error, or a malformed page."""


class ApiAuthError(ApiError):
    """The API refused the bearer token; retrying will not help."""


@dataclass(frozen=True)
class Watermark:
    """Where the next pull starts: events received at or after ``since`` (None: from the beginning)."""

    since: str | None = None
    load_id: str | None = None
    updated_at: str | None = None


@dataclass(frozen=True)
class Page:
    """One response body as received, with its events parsed (``problem`` says why it could not be)."""

    body: bytes
    since: str | None
    cursor: str | None
    events: pa.Table | None
    next_cursor: str | None
    offset: int | None
    problem: str | None = None

    @property
    def page_id(self) -> str:
        digest = hashlib.sha256(self.body).hexdigest()[:16]
        return digest if self.offset is None else f"{self.offset:010d}-{digest}"


@dataclass(frozen=True)
class LandedPage:
    """A page written to landing: its path (``landing/...``), how many events it held, the latest
    ``received_at`` among them, and the cursor of the next page. Its events wait in a :class:`Spool`."""

    path: str
    events: int
    latest_received_at: str | None
    next_cursor: str | None


@dataclass(frozen=True)
class RejectedPage:
    path: str
    reason: str


@dataclass(frozen=True)
class BronzeWrite:
    """What writing bronze did: rows received, rows new to bronze, and the partitions rewritten."""

    received: int
    added: int
    partitions: tuple[str, ...]


# --- watermark ------------------------------------------------------------------------------------
def read_watermark(lake: Lake) -> Watermark:
    """The watermark in landing, or an empty one before the first pull."""
    if not lake.exists("landing", WATERMARK_PATH):
        return Watermark()
    return Watermark(**json.loads(lake.read_bytes("landing", WATERMARK_PATH)))


def next_watermark(current: Watermark, landed: list[LandedPage], load_id: str) -> Watermark:
    """The latest ``received_at`` of ``landed`` (the current watermark if nothing arrived)."""
    latest = [page.latest_received_at for page in landed if page.latest_received_at is not None]
    if not latest:
        return current
    since = max([*latest, *([current.since] if current.since else [])])
    if since == current.since:
        return current
    return Watermark(since=since, load_id=load_id, updated_at=iso_utc(utc_now()))


def write_watermark(lake: Lake, watermark: Watermark) -> None:
    lake.write_bytes("landing", WATERMARK_PATH, json_bytes(watermark.__dict__))


def advance_watermark(lake: Lake, current: Watermark, landed: list[LandedPage], load_id: str) -> Watermark:
    """Write the next watermark if it moved (call only once ``landed`` is in bronze); the watermark now."""
    watermark = next_watermark(current, landed, load_id)
    if watermark != current:
        write_watermark(lake, watermark)
    return watermark


# --- the HTTP source -------------------------------------------------------------------------------
def api_client(settings: Settings, timeout_seconds: float) -> httpx.Client:
    """An httpx client for the API with the bearer token and a total timeout per request."""
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    return httpx.Client(
        base_url=settings.api_url,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=httpx.Timeout(timeout_seconds),
    )


def retry_after_seconds(value: str | None, default: float = 1.0, cap: float = 60.0) -> float:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), within ``[0, cap]``."""
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return default
    return min(max(seconds, 0.0), cap)


def fetch_page(
    client: httpx.Client, since: str | None, cursor: str | None, limit: int, max_wait: float = 60.0
) -> Page:
    """GET one page; raise :class:`TransientApiError` for what a retry may fix (after honouring Retry-After).

    A 200 whose body is not a valid page comes back with ``problem`` set: the caller decides whether to retry.
    """
    params: dict[str, str | int] = {"limit": limit}
    if cursor:
        params["cursor"] = cursor
    elif since:
        params["since"] = since
    try:
        response = client.get(PAGE_PATH, params=params)
    except httpx.TimeoutException as exc:
        raise TransientApiError(f"no answer from {client.base_url} within the timeout ({exc!r})") from exc
    except httpx.TransportError as exc:
        raise TransientApiError(f"cannot reach {client.base_url}: {exc!r}") from exc
    status = response.status_code
    if status == 401:
        raise ApiAuthError(f"{client.base_url} refused the bearer token (check LAKEHOUSE_API_TOKEN)")
    if status == 429:
        wait = retry_after_seconds(response.headers.get("Retry-After"), cap=max_wait)
        time.sleep(wait)
        raise TransientApiError(f"429 Too Many Requests (waited Retry-After {wait:g} s)")
    if status >= 500:
        raise TransientApiError(f"{status} from {client.base_url}: {response.text[:200]}")
    if status != 200:
        raise ApiError(f"unexpected {status} from {client.base_url}: {response.text[:200]}")
    return parse_page(response.content, since, cursor)


def parse_page(body: bytes, since: str | None, cursor: str | None) -> Page:
    """Events and next cursor of a page body, or the body with the reason it is malformed."""
    try:
        document = json.loads(body)
        items = document["items"]
        next_cursor = document["next_cursor"]
        offset = int(document["page"]["offset"])
        if not isinstance(items, list) or not (next_cursor is None or isinstance(next_cursor, str)):
            raise TypeError("items must be a list and next_cursor a string or null")
        events = pa.Table.from_pylist([_event(item) for item in items], schema=PAGE_SCHEMA)
    except (ValueError, KeyError, TypeError) as exc:
        return Page(body, since, cursor, None, None, None, problem=f"malformed page: {exc!r}"[:500])
    return Page(body, since, cursor, events, next_cursor, offset)


def _event(item: object) -> dict[str, str | None]:
    if not isinstance(item, dict):
        raise TypeError(f"an item is not an object: {item!r:.80}")
    missing = [column for column in EVENT_COLUMNS if column not in item]
    if missing:
        raise KeyError(f"an item lacks {', '.join(missing)}")
    return {column: None if item[column] is None else str(item[column]) for column in EVENT_COLUMNS}


# --- landing ---------------------------------------------------------------------------------------
def land_page(lake: Lake, page: Page, load_id: str) -> LandedPage:
    """Write the body as received to ``landing/app_events/<today>/<page-id>.json``."""
    assert page.events is not None, "a malformed page goes to reject_page"
    path = f"{LANDING_PREFIX}/{utc_now().date().isoformat()}/{page.page_id}.json"
    lake.write_bytes_with_metadata(
        "landing", path, page.body, {"load_id": load_id, "events": str(len(page.events))}
    )
    latest = pc.max(page.events["received_at"]).as_py() if page.events.num_rows else None
    return LandedPage(f"landing/{path}", page.events.num_rows, latest, page.next_cursor)


def reject_page(lake: Lake, page: Page, load_id: str, attempts: int) -> RejectedPage:
    """Keep a page that stayed malformed in ``landing/_rejected/app_events/`` with a ``.reason.json``."""
    path = f"{REJECTED_PREFIX}/{utc_now().date().isoformat()}/{page.page_id}.json"
    reason = f"{page.problem} (after {attempts} attempts)"
    lake.write_bytes("landing", path, page.body)
    request = {"since": page.since, "cursor": page.cursor, "attempts": attempts}
    facts = {
        "reason": reason,
        **request,
        "load_id": load_id,
        "size": len(page.body),
        "rejected_at": iso_utc(utc_now()),
    }
    lake.write_bytes("landing", f"{path}.reason.json", json_bytes(facts))
    return RejectedPage(f"landing/{path}", reason)


# --- bronze ----------------------------------------------------------------------------------------
def bronze_rows(events: pa.Table, source_file: str, load_id: str, ingested_at: datetime) -> pa.Table:
    """One page's events in bronze form (with ``_ingested_at``, ``_source_file``, ``_load_id``)."""
    n = events.num_rows
    extra = {"_ingested_at": [ingested_at] * n, "_source_file": [source_file] * n, "_load_id": [load_id] * n}
    table = events
    for name, values in extra.items():
        field = BRONZE_SCHEMA.field(name)
        table = table.append_column(field, pa.array(values, field.type))
    return table


class Spool:
    """The pull's events in bronze form, waiting on local disk by event month until bronze is written.

    A pull of 10M events (SF10) would hold gigabytes if its pages stayed in memory; spooled, writing bronze
    needs one month at a time. ``add`` of the same page sequence number again (a retried task) replaces it.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def add(self, sequence: int, rows: pa.Table) -> None:
        """Keep page number ``sequence``'s bronze rows, split by event month."""
        rows_by_month: dict[str, list[int]] = {}
        for index, event_month in enumerate(event_months(rows)):
            rows_by_month.setdefault(event_month, []).append(index)
        for event_month, indexes in rows_by_month.items():
            folder = self.folder / event_month
            folder.mkdir(parents=True, exist_ok=True)
            part = folder / f"{sequence:08d}.arrow.tmp"
            with pa.ipc.new_file(part, BRONZE_SCHEMA) as writer:
                writer.write_table(rows.take(pa.array(indexes, pa.int64())))
            part.replace(folder / f"{sequence:08d}.arrow")

    def months(self) -> list[str]:
        return sorted(p.name for p in self.folder.iterdir() if p.is_dir()) if self.folder.exists() else []

    def rows(self, event_month: str) -> pa.Table:
        """The month's spooled rows in page order."""
        parts = sorted((self.folder / event_month).glob("*.arrow"))
        tables = [pa.ipc.open_file(pa.memory_map(str(part))).read_all() for part in parts]
        return pa.concat_tables(tables) if tables else BRONZE_SCHEMA.empty_table()


def event_months(table: pa.Table) -> list[str]:
    """The ``event_month`` partition of each row: ``occurred_at``'s ``yyyy-mm``, or ``unknown``."""
    return [
        value[:7] if value is not None and _DATE.match(value) else UNKNOWN_MONTH
        for value in table["occurred_at"].to_pylist()
    ]


def partition_folder(event_month: str) -> str:
    return f"{BRONZE_PREFIX}/event_month={event_month}"


def bronze_files(lake: Lake) -> dict[str, list[str]]:
    """Parquet files of bronze app_events by event month."""
    found: dict[str, list[str]] = {}
    for entry in lake.files("bronze", BRONZE_PREFIX, suffix=".parquet"):
        folder = entry.path.split("/")[-2]
        found.setdefault(folder.removeprefix("event_month="), []).append(entry.path)
    return found


def read_parquet(lake: Lake, path: str) -> pa.Table:
    return pq.read_table(pa.BufferReader(lake.read_bytes("bronze", path)), schema=BRONZE_SCHEMA)


def dedupe(table: pa.Table) -> pa.Table:
    """The first row of each ``(event_id, received_at)``, in order."""
    seen: set[tuple[str | None, ...]] = set()
    keep = []
    for key in zip(*(table[column].to_pylist() for column in DEDUPE_KEY), strict=True):
        keep.append(key not in seen)
        seen.add(key)
    return table.filter(pa.array(keep, pa.bool_()))


def write_partition(lake: Lake, event_month: str, table: pa.Table, load_id: str, replaces: list[str]) -> str:
    """Write a partition to a new file, then delete the files it replaces: no moment without the history."""
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy")
    data = buffer.getvalue()
    path = f"{partition_folder(event_month)}/part-{load_id}-{md5_hex(data)[:8]}.parquet"
    lake.write_bytes("bronze", path, data)
    for old in replaces:
        if old != path:
            lake.delete("bronze", old)
    return path


def merge_partition(lake: Lake, event_month: str, new: pa.Table, old_files: list[str], load_id: str) -> int:
    """Merge ``new`` into one month partition; the rows it gained (0: the partition is untouched)."""
    # Several old files only after a run stopped between writing a partition and deleting what it replaced.
    history = dedupe(
        pa.concat_tables([read_parquet(lake, p) for p in old_files] or [BRONZE_SCHEMA.empty_table()])
    )
    merged = dedupe(pa.concat_tables([history, new]))
    gained = merged.num_rows - history.num_rows
    if gained or len(old_files) != 1:
        write_partition(lake, event_month, merged, load_id, old_files)
    return gained


def write_bronze(lake: Lake, spool: Spool, load_id: str, workers: int = 4) -> BronzeWrite:
    """Merge the spooled events into their month partitions, a few at a time; write only the changed ones."""
    existing = bronze_files(lake)

    def merge(event_month: str) -> tuple[str, int, int]:
        rows = spool.rows(event_month)
        gained = merge_partition(lake, event_month, rows, existing.get(event_month, []), load_id)
        return event_month, rows.num_rows, gained

    with ThreadPoolExecutor(max_workers=workers) as pool:
        merged = list(pool.map(merge, spool.months()))
    written = tuple(m for m, _, gained in merged if gained or len(existing.get(m, [])) != 1)
    return BronzeWrite(
        received=sum(n for _, n, _ in merged), added=sum(g for _, _, g in merged), partitions=written
    )
