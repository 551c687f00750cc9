"""The app_events client: page parsing, Retry-After, error classes, dedupe, partitions and the watermark."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pyarrow as pa
import pytest

from ingestion import app_events
from ingestion.app_events import (
    BRONZE_SCHEMA,
    PAGE_SCHEMA,
    LandedPage,
    Spool,
    Watermark,
    bronze_rows,
    dedupe,
    event_months,
    next_watermark,
    parse_page,
    retry_after_seconds,
)


def event(event_id: str | None, received_at: str, occurred_at: str = "2026-01-02T10:00:00Z") -> dict:
    fixed = {
        "session_id": "s",
        "customer_id": None,
        "event_type": "search",
        "product_id": None,
        "device": "d",
    }
    return {"event_id": event_id, **fixed, "occurred_at": occurred_at, "received_at": received_at}


def body(items: list[dict], next_cursor: str | None = "c2", offset: int = 0) -> bytes:
    return json.dumps(
        {"items": items, "next_cursor": next_cursor, "page": {"offset": offset, "count": len(items)}}
    ).encode()


def test_parse_page_reads_events_as_strings() -> None:
    page = parse_page(body([event("e1", "r1") | {"device": 3}], offset=40), "since", None)
    assert page.problem is None
    assert page.events.schema == PAGE_SCHEMA
    assert page.events.to_pylist() == [event("e1", "r1") | {"device": "3"}]
    assert (page.next_cursor, page.offset, page.since) == ("c2", 40, "since")
    assert page.page_id.startswith("0000000040-")


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (body([event("e1", "r1")])[:30], "malformed page: JSONDecodeError"),
        (b'{"items": [], "page": {"offset": 0}}', "malformed page: KeyError('next_cursor')"),
        (json.dumps({"items": [{"event_id": "x"}], "next_cursor": None, "page": {"offset": 0}}).encode(),
         "malformed page: KeyError('an item lacks session_id, customer_id"),
        (json.dumps({"items": {}, "next_cursor": None, "page": {"offset": 0}}).encode(),
         "malformed page: TypeError('items must be a list"),
    ],
)  # fmt: skip
def test_parse_page_reports_what_is_malformed(raw: bytes, problem: str) -> None:
    page = parse_page(raw, None, "c1")
    assert page.problem is not None and page.problem.startswith(problem)
    assert (page.events, page.body, page.cursor) == (None, raw, "c1")


def test_retry_after_seconds() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(None) == 1.0
    assert retry_after_seconds("999", cap=60) == 60
    assert retry_after_seconds("soon") == 1.0
    in_5s = format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
    assert 3.0 <= retry_after_seconds(in_5s) <= 5.0


def responder(*responses: httpx.Response) -> httpx.Client:
    queue = list(responses)
    return httpx.Client(base_url="http://api", transport=httpx.MockTransport(lambda request: queue.pop(0)))


def test_fetch_page_classifies_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(app_events.time, "sleep", slept.append)
    with pytest.raises(app_events.TransientApiError, match="429"):
        app_events.fetch_page(responder(httpx.Response(429, headers={"Retry-After": "2"})), None, None, 10)
    assert slept == [2.0]  # Retry-After honoured before the task retries
    with pytest.raises(app_events.TransientApiError, match="503"):
        app_events.fetch_page(responder(httpx.Response(503, text="busy")), None, None, 10)
    with pytest.raises(app_events.ApiAuthError):
        app_events.fetch_page(responder(httpx.Response(401)), None, None, 10)
    with pytest.raises(app_events.ApiError, match="unexpected 404"):
        app_events.fetch_page(responder(httpx.Response(404)), None, None, 10)
    page = app_events.fetch_page(responder(httpx.Response(200, content=b'{"items": [')), None, None, 10)
    assert page.problem is not None

    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    slow = httpx.Client(base_url="http://api", transport=httpx.MockTransport(timeout))
    with pytest.raises(app_events.TransientApiError, match="within the timeout"):
        app_events.fetch_page(slow, None, None, 10)


def test_fetch_page_sends_cursor_else_since() -> None:
    seen: list[httpx.URL] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, content=body([]))

    api = httpx.Client(base_url="http://api", transport=httpx.MockTransport(record))
    app_events.fetch_page(api, "2026-01-01T00:00:00Z", None, 5)
    app_events.fetch_page(api, "2026-01-01T00:00:00Z", "abc", 5)
    assert [dict(u.params) for u in seen] == [
        {"limit": "5", "since": "2026-01-01T00:00:00Z"},
        {"limit": "5", "cursor": "abc"},
    ]


def page_table(*events: dict) -> pa.Table:
    return pa.Table.from_pylist(list(events), schema=PAGE_SCHEMA)


def test_dedupe_keeps_the_first_of_each_event_id_and_received_at() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    a = bronze_rows(
        page_table(event("e1", "r1"), event("e2", "r2"), event(None, "r3")), "landing/a.json", "L1", at
    )
    b = bronze_rows(
        page_table(event("e2", "r2"), event("e2", "r9"), event(None, "r4")), "landing/b.json", "L1", at
    )
    assert a.schema == BRONZE_SCHEMA
    kept = dedupe(pa.concat_tables([a, b]))
    assert [(r["event_id"], r["received_at"], r["_source_file"]) for r in kept.to_pylist()] == [
        ("e1", "r1", "landing/a.json"),
        ("e2", "r2", "landing/a.json"),
        (None, "r3", "landing/a.json"),
        ("e2", "r9", "landing/b.json"),  # the source sent e2 twice (an exact duplicate): kept for silver
        (None, "r4", "landing/b.json"),
    ]
    assert set(kept["_ingested_at"].to_pylist()) == {at}


def test_spool_keeps_pages_by_event_month_in_page_order_and_a_retried_page_once(tmp_path: Path) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    spool = Spool(tmp_path / "spool")
    assert spool.months() == [] and spool.rows("2026-01").num_rows == 0
    first = page_table(
        event("a", "r1", "2026-01-05T00:00:00Z"),
        event("b", "r2", "2025-12-31T23:00:00Z"),
        event("c", "r3", None),
    )
    second = page_table(event("d", "r4", "2026-01-06T00:00:00Z"))
    spool.add(1, bronze_rows(second, "landing/2.json", "L1", at))
    spool.add(0, bronze_rows(first, "landing/1.json", "L1", at))
    spool.add(1, bronze_rows(second, "landing/2.json", "L1", at))  # the task ran again
    assert spool.months() == ["2025-12", "2026-01", "unknown"]
    january = spool.rows("2026-01")
    assert january.schema == BRONZE_SCHEMA
    assert [(r["event_id"], r["_source_file"]) for r in january.to_pylist()] == [
        ("a", "landing/1.json"),
        ("d", "landing/2.json"),
    ]
    assert spool.rows("2025-12")["event_id"].to_pylist() == ["b"]
    assert spool.rows("unknown")["event_id"].to_pylist() == ["c"]
    assert not list((tmp_path / "spool").rglob("*.tmp"))


def test_event_months_fall_back_to_unknown() -> None:
    table = page_table(
        event("a", "r", "2025-12-31T23:59:59Z"), event("b", "r", "not a date"), event("c", "r", None)
    )
    assert event_months(table) == ["2025-12", "unknown", "unknown"]


def test_next_watermark_moves_to_the_latest_received_at_only_forward() -> None:
    current = Watermark(since="2026-01-01T00:00:05.000000Z", load_id="L0")
    landed = [
        LandedPage("p", 2, "2026-01-01T00:00:09.000000Z", None),
        LandedPage("q", 0, None, None),
    ]
    moved = next_watermark(current, landed, "L1")
    assert (moved.since, moved.load_id) == ("2026-01-01T00:00:09.000000Z", "L1")
    assert next_watermark(current, [], "L1") is current
    same = [LandedPage("p", 1, "2026-01-01T00:00:05.000000Z", None)]
    assert next_watermark(current, same, "L1") is current
