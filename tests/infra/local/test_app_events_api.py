"""The app_events API in-process: auth, pagination, since, cursors, OpenAPI and every fault kind."""

from __future__ import annotations

import json
import random
import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from infra.local.app_events_api import (
    ApiConfig,
    FaultPlan,
    build_feed,
    create_app,
    decode_cursor,
    encode_cursor,
)
from ingestion.synthetic import iter_app_events

CONFIG = ApiConfig(sf=0.005, seed=7, days=3, first_day=1)  # 100 events a day, days 1 and 2
AUTH = {"Authorization": "Bearer secret"}


@pytest.fixture(scope="module")
def feed():
    return build_feed(CONFIG)


def client(feed, **config: object) -> TestClient:
    return TestClient(create_app(feed, "secret", CONFIG.model_copy(update=config)))


def pull_all(api: TestClient, limit: int) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        page = api.get("/v1/app-events", params=params, headers=AUTH).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def test_feed_is_the_generators_days_in_order_with_increasing_received_at(feed) -> None:
    records = [r for day in (1, 2) for r in iter_app_events(0.005, 7, day)]
    items = [json.loads(item) for item in feed.items]
    assert [{k: v for k, v in i.items() if k != "received_at"} for i in items] == records
    assert list(feed.received_at) == sorted(set(feed.received_at))
    assert feed.received_at[0].startswith("2026-01-02T") and feed.received_at[-1].startswith("2026-01-03T")


def test_pages_cover_the_feed_exactly_once(feed) -> None:
    assert pull_all(client(feed), limit=7) == [json.loads(item) for item in feed.items]


def test_since_is_inclusive_and_accepts_offsets(feed) -> None:
    api = client(feed)
    at = feed.received_at[150]
    page = api.get("/v1/app-events", params={"since": at, "limit": 2}, headers=AUTH).json()
    assert [i["received_at"] for i in page["items"]] == feed.received_at[150:152]
    assert page["page"] == {"offset": 150, "count": 2}
    later = api.get("/v1/app-events", params={"since": "2026-01-03T01:00:00+01:00"}, headers=AUTH).json()
    assert later["items"][0]["received_at"] == feed.received_at[feed.position("2026-01-03T00:00:00.000000Z")]


def test_auth_openapi_and_health(feed) -> None:
    api = client(feed)
    assert api.get("/v1/app-events").status_code == 401
    wrong = api.get("/v1/app-events", headers={"Authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.headers["WWW-Authenticate"]) == (401, "Bearer")
    assert api.get("/health").json() == {"status": "ok", "events": len(feed)}
    schema = api.get("/openapi.json").json()
    assert set(schema["paths"]) == {"/health", "/v1/app-events", "/v1/faults"}
    assert {p["name"] for p in schema["paths"]["/v1/app-events"]["get"]["parameters"]} == {
        "since",
        "cursor",
        "limit",
    }
    assert "AppEventsPage" in schema["components"]["schemas"]
    assert api.get("/v1/app-events", params={"cursor": "!!"}, headers=AUTH).status_code == 400
    assert api.get("/v1/app-events", params={"since": "yesterday"}, headers=AUTH).status_code == 400
    assert api.get("/v1/app-events", params={"limit": 5001}, headers=AUTH).status_code == 422


def test_cursor_round_trip() -> None:
    assert decode_cursor(encode_cursor(12345)) == 12345


def test_fault_plan_parse_and_draw_are_deterministic() -> None:
    plan = FaultPlan.parse("429:0.1, 500:0.2,slow:0.05,truncate:0.05,duplicate:0.1,poison:40")
    assert plan.probabilities == {"429": 0.1, "500": 0.2, "slow": 0.05, "truncate": 0.05, "duplicate": 0.1}
    assert plan.poison == (40,)
    draws = [plan.draw(random.Random(1)) for _ in range(3)]
    assert draws == [plan.draw(random.Random(1))] * 3
    counts = {k: 0 for k in (None, "429", "500", "slow", "truncate", "duplicate")}
    rng = random.Random(5)
    for _ in range(10_000):
        counts[plan.draw(rng)] += 1
    assert 1_800 < counts["500"] < 2_200 and 4_700 < counts[None] < 5_300
    with pytest.raises(ValueError, match="unknown fault 'teapot'"):
        FaultPlan.parse("teapot:0.1")
    with pytest.raises(ValueError, match="more than 1"):
        FaultPlan.parse("429:0.6,500:0.6")


@pytest.mark.parametrize("kind", ["429", "500", "truncate", "duplicate"])
def test_each_fault_kind(feed, kind: str) -> None:
    api = client(feed, faults=f"{kind}:1.0", retry_after_seconds=7)
    cursor = encode_cursor(10)
    response = api.get("/v1/app-events", params={"cursor": cursor, "limit": 5}, headers=AUTH)
    clean = [json.loads(i) for i in feed.items[10:15]]
    if kind == "429":
        assert (response.status_code, response.headers["Retry-After"]) == (429, "7")
    elif kind == "500":
        assert response.status_code == 500
    elif kind == "truncate":
        assert response.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.content)
    else:
        assert response.json()["items"] == [json.loads(i) for i in feed.items[7:10]] + clean
        assert response.json()["next_cursor"] == encode_cursor(15)
    assert api.get("/v1/faults", headers=AUTH).json()[kind] == 1


def test_slow_answers_after_the_configured_delay(feed) -> None:
    import time

    api = client(feed, faults="slow:1.0", slow_seconds=0.3)
    started = time.monotonic()
    assert api.get("/v1/app-events", params={"limit": 1}, headers=AUTH).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_poison_truncates_every_page_that_covers_the_position(feed) -> None:
    api = client(feed, faults="poison:12")
    assert (
        api.get("/v1/app-events", params={"cursor": encode_cursor(10), "limit": 5}, headers=AUTH).content[-1:]
        != b"}"
    )
    assert api.get("/v1/app-events", params={"cursor": encode_cursor(5), "limit": 5}, headers=AUTH).json()
    assert (
        api.get("/v1/app-events", params={"cursor": encode_cursor(12), "limit": 1}, headers=AUTH).content[-1:]
        != b"}"
    )
    assert api.get("/v1/faults", headers=AUTH).json()["poison"] == 2
