"""The ingestion flows end to end against the real local services (Azurite + DFS endpoint, the app_events API,
the Event Hubs endpoint), each on free ports, each test in its own fresh zone containers.

Flows read their settings from ``get_settings()``; the ``use_lake`` fixture points the ``LAKEHOUSE_*``
environment at the test stack and clears the settings cache.
"""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import fastavro
import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from prefect.settings import PREFECT_API_URL
from prefect.states import State

from infra.local.app_events_api import ApiConfig
from infra.local.launcher import Launcher, free_port, running
from infra.local.services import app_events_api_spec, dfs_spec
from infra.settings import ZONES, Settings, get_settings
from infra.storage.lake import Lake
from ingestion import app_events, batch, reviews
from ingestion.common import StorageUnavailableError, md5_hex
from ingestion.synthetic import generate, iter_app_events, iter_reviews
from transforms.contract import CSV_ENTITIES

pytestmark = [pytest.mark.services, pytest.mark.e2e]

SF, SEED, DAYS = 0.01, 7, 2
START = date(2026, 1, 1)
API_SF, API_FIRST_DAY, API_DAYS, API_LIMIT = 0.02, 1, 4, 100


# --- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture
def use_lake(
    lake_stack: Settings, prefect_harness: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Callable[..., Settings]]:
    """Make settings with fresh zone containers on the session's lake, and point get_settings() at them."""
    created: list[Settings] = []

    def use(**overrides: Any) -> Settings:
        prefix = f"t{uuid.uuid4().hex[:10]}"
        containers = {f"{zone}_container": f"{prefix}-{zone}" for zone in ZONES}
        settings = lake_stack.model_copy(update={**containers, "cache_dir": tmp_path / "cache", **overrides})
        with Lake(settings) as lake:
            lake.ensure_zones()
        for name, value in settings.to_env().items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        if settings.landing_container == containers["landing_container"]:
            created.append(settings)  # containers given in overrides belong to someone else
        return settings

    yield use
    get_settings.cache_clear()
    for settings in created:
        with Lake(settings) as lake:
            for zone in ZONES:
                lake.filesystem(zone).delete_file_system()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generator's own output for the batch flows' parameters: the expected files."""
    out = tmp_path_factory.mktemp("generated")
    generate(out, sf=SF, seed=SEED, days=DAYS, start=START)
    return out


def _api(
    lake_stack: Settings, tmp_path_factory: pytest.TempPathFactory, config: ApiConfig
) -> Iterator[Settings]:
    settings = lake_stack.model_copy(update={"api_port": free_port()})
    launcher = Launcher(tmp_path_factory.mktemp("api"))
    with running(launcher, [app_events_api_spec(settings, config)]):
        yield settings


API = ApiConfig(sf=API_SF, seed=SEED, days=API_DAYS, first_day=API_FIRST_DAY, start=START)
FAULTS = "429:0.1,500:0.1,slow:0.05,truncate:0.05,duplicate:0.1"
POISON_AT = 650


@pytest.fixture(scope="module")
def clean_api(lake_stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    yield from _api(lake_stack, tmp_path_factory, API)


@pytest.fixture(scope="module")
def faulty_api(lake_stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    config = API.model_copy(update={"faults": FAULTS, "fault_seed": 3, "slow_seconds": 3.0})
    yield from _api(lake_stack, tmp_path_factory, config)


@pytest.fixture(scope="module")
def poisoned_api(lake_stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    yield from _api(lake_stack, tmp_path_factory, API.model_copy(update={"faults": f"poison:{POISON_AT}"}))


# --- helpers ----------------------------------------------------------------------------------------
def artifact_rows(state: State, key: str) -> list[dict[str, Any]]:
    """The rows of the table artifact ``key`` that the flow run of ``state`` created."""
    # Through the REST API: this Prefect client build sends nulls the server's filter endpoint refuses.
    body = {
        "artifacts": {
            "key": {"any_": [key]},
            "flow_run_id": {"any_": [str(state.state_details.flow_run_id)]},
        },
        "sort": "CREATED_DESC",
        "limit": 10,
        "offset": 0,
    }
    response = httpx.post(f"{PREFECT_API_URL.value()}/artifacts/filter", json=body, timeout=30)
    response.raise_for_status()
    artifacts = response.json()
    assert len(artifacts) == 1, artifacts
    data = artifacts[0]["data"]
    return json.loads(data) if isinstance(data, str) else data


def snapshot(settings: Settings, zone: str, prefix: str = "") -> dict[str, tuple[int, str | None]]:
    """Path -> (size, etag) of every file under ``prefix``: equal snapshots mean nothing was rewritten."""
    with Lake(settings) as lake:
        return {e.path: (e.size, e.etag) for e in lake.files(zone, prefix)}


def csv_rows(data: bytes) -> int:
    return sum(1 for _ in csv.reader(io.StringIO(data.decode()))) - 1


# --- batch --------------------------------------------------------------------------------------------
def test_generate_and_copy_batch_lands_every_file_once_and_reruns_change_nothing(
    use_lake: Callable[..., Settings], generated: Path
) -> None:
    from flows.batch import copy_batch_to_bronze, generate_batch

    settings = use_lake()
    expected = {
        p.relative_to(generated).as_posix(): p.read_bytes() for p in batch.generated_csv_files(generated)
    }
    assert len(expected) == len(CSV_ENTITIES) * DAYS

    dropped = generate_batch(sf=SF, seed=SEED, days=DAYS, start=START)
    assert sorted(dropped) == sorted(expected)
    state = copy_batch_to_bronze(return_state=True)
    outcomes = state.result()

    assert Counter(o.status for o in outcomes) == {"copied": len(CSV_ENTITIES) * DAYS}
    with Lake(settings) as lake:
        bronze = {e.path: lake.read_bytes("bronze", e.path) for e in lake.files("bronze", suffix=".csv")}
        manifest = batch.read_manifest(lake)
        props = lake.properties("bronze", "customers/ingest_date=2026-01-02/customers.csv")
    expected_bronze = {
        f"{entity}/ingest_date={day}/{name}": data
        for path, data in expected.items()
        for _, entity, day, name in [path.split("/")]
    }
    assert bronze == expected_bronze  # byte-identical copies, one per landing file, nothing else
    # Rows per entity and batch date equal the generator's summary.
    summary = json.loads((generated / "summary.json").read_text())
    for path, data in bronze.items():
        entity, day = path.split("/")[0], path.split("/")[1].removeprefix("ingest_date=")
        assert csv_rows(data) == summary["entities"][entity]["by_date"][day]["rows"], path
    assert {(m.source, m.md5, m.size, m.status) for m in manifest} == {
        (path, md5_hex(data), len(data), "copied") for path, data in expected.items()
    }
    assert {m.load_id for m in manifest} == {props.metadata["load_id"]}
    assert props.metadata["source_file"] == "landing/batch/customers/2026-01-02/customers.csv"
    assert props.metadata["md5"] == md5_hex(expected["batch/customers/2026-01-02/customers.csv"])
    assert len(artifact_rows(state, "batch-copy")) == len(CSV_ENTITIES) * DAYS

    before = snapshot(settings, "bronze"), snapshot(settings, "landing")
    generate_batch(sf=SF, seed=SEED, days=DAYS, start=START)
    state = copy_batch_to_bronze(return_state=True)
    assert Counter(o.status for o in state.result()) == {"unchanged": len(CSV_ENTITIES) * DAYS}
    assert (snapshot(settings, "bronze"), snapshot(settings, "landing")) == before
    assert artifact_rows(state, "batch-copy") == []


def test_changed_file_is_copied_as_a_new_version_and_bad_header_is_rejected(
    use_lake: Callable[..., Settings], generated: Path
) -> None:
    from flows.batch import copy_batch_to_bronze, generate_batch

    settings = use_lake()
    generate_batch(sf=SF, seed=SEED, days=1, start=START)
    copy_batch_to_bronze()
    original = (generated / "batch/products/2026-01-01/products.csv").read_bytes()
    changed = original + b"P09999,Late Product,software,9.99,2025-12-31T00:00:00Z,2026-01-01T00:00:00Z\n"
    bad = b"customer_id;name;email\nC0000001;Ann;ann@example.com\n"
    with Lake(settings) as lake:
        lake.write_bytes("landing", "batch/products/2026-01-01/products.csv", changed)
        lake.write_bytes("landing", "batch/customers/2026-01-02/customers.csv", bad)

    state = copy_batch_to_bronze(return_state=True)
    outcomes = {o.source: o for o in state.result() if o.status != "unchanged"}

    new_version = f"products/ingest_date=2026-01-01/products.{md5_hex(changed)[:12]}.csv"
    assert outcomes["batch/products/2026-01-01/products.csv"].status == "copied"
    assert outcomes["batch/products/2026-01-01/products.csv"].destination == new_version
    rejected = outcomes["batch/customers/2026-01-02/customers.csv"]
    assert rejected.status == "rejected"
    assert rejected.reason == (
        "header mismatch for customers: expected "
        "customer_id,name,email,country,region,segment,signup_at,is_active,updated_at; "
        "found customer_id;name;email"
    )
    assert len(outcomes) == 2
    with Lake(settings) as lake:
        assert lake.read_bytes("bronze", "products/ingest_date=2026-01-01/products.csv") == original
        assert lake.read_bytes("bronze", new_version) == changed
        assert lake.read_bytes("landing", "_rejected/batch/customers/2026-01-02/customers.csv") == bad
        reason = json.loads(
            lake.read_bytes("landing", "_rejected/batch/customers/2026-01-02/customers.csv.reason.json")
        )
        assert not lake.files("bronze", "customers/ingest_date=2026-01-02")
    assert reason["reason"] == rejected.reason
    assert reason["md5"] == md5_hex(bad)
    rows = {row["source"]: row for row in artifact_rows(state, "batch-copy")}
    assert rows.keys() == set(outcomes)
    assert rows["batch/customers/2026-01-02/customers.csv"]["status"] == "rejected"
    assert rows["batch/customers/2026-01-02/customers.csv"]["reason"] == rejected.reason

    before = snapshot(settings, "bronze"), snapshot(settings, "landing")
    assert {o.status for o in copy_batch_to_bronze()} == {"unchanged"}
    assert (snapshot(settings, "bronze"), snapshot(settings, "landing")) == before


def test_copy_that_stops_before_its_manifest_entry_is_finished_by_the_next_run(
    use_lake: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.batch import copy_batch_to_bronze, generate_batch

    settings = use_lake()
    landed = generate_batch(sf=SF, seed=SEED, days=1, start=START)
    real_manifest_path = batch.manifest_path
    crash_on = "batch/orders/2026-01-01/orders.csv"

    def crash_after_copy(source: str, md5: str) -> str:
        if source == crash_on:
            raise RuntimeError("injected crash between the bronze copy and its manifest entry")
        return real_manifest_path(source, md5)

    monkeypatch.setattr(batch, "manifest_path", crash_after_copy)
    with pytest.raises(RuntimeError, match="injected crash"):
        copy_batch_to_bronze()
    with Lake(settings) as lake:
        assert lake.exists("bronze", "orders/ingest_date=2026-01-01/orders.csv")
        assert crash_on not in {m.source for m in batch.read_manifest(lake)}

    monkeypatch.setattr(batch, "manifest_path", real_manifest_path)
    outcomes = copy_batch_to_bronze()
    statuses = {o.source: o.status for o in outcomes}
    assert statuses[crash_on] == "recovered"  # found in bronze with its MD5: recorded, not copied again
    with Lake(settings) as lake:
        manifest = batch.read_manifest(lake)
        assert sorted(m.source for m in manifest) == sorted(landed)
        assert len(lake.files("bronze", suffix=".csv")) == len(landed)


def test_storage_unavailable_mid_copy_fails_clearly_and_the_rerun_completes(
    use_lake: Callable[..., Settings], lake_stack: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.batch import copy_batch_to_bronze, generate_batch

    settings = use_lake()
    landed = generate_batch(sf=SF, seed=SEED, days=DAYS, start=START)
    launcher = Launcher(lake_stack.state_dir)
    real_copy = batch.copy_file
    copied: list[str] = []

    def copy_then_storage_goes_away(lake: Lake, file: batch.LandingFile, *args: Any) -> batch.CopyOutcome:
        outcome = real_copy(lake, file, *args)
        copied.append(outcome.source)
        if len(copied) == 1:
            launcher.stop("dfs")
        return outcome

    monkeypatch.setattr(batch, "copy_file", copy_then_storage_goes_away)
    try:
        with pytest.raises(
            StorageUnavailableError, match=rf"storage endpoint {settings.dfs_url} is unreachable"
        ):
            copy_batch_to_bronze()
    finally:
        launcher.start(dfs_spec(lake_stack))
    assert len(copied) == 1
    monkeypatch.setattr(batch, "copy_file", real_copy)

    outcomes = copy_batch_to_bronze()
    assert Counter(o.status for o in outcomes) == {"unchanged": 1, "copied": len(landed) - 1}
    assert {o.source for o in outcomes if o.status == "copied"} == set(landed) - set(copied)
    with Lake(settings) as lake:
        assert sorted(m.source for m in batch.read_manifest(lake)) == sorted(landed)
        assert len(lake.files("bronze", suffix=".csv")) == len(landed)


# --- app_events ---------------------------------------------------------------------------------------
def expected_events(first: int | None = None) -> Counter[str]:
    """Events per event month the generator made for the API's days (the first ``first`` when given)."""
    days = range(API_FIRST_DAY, API_DAYS)
    records = [r for day in days for r in iter_app_events(API_SF, SEED, day, start=START)]
    return Counter(r["occurred_at"][:7] for r in records[:first])


def bronze_events(settings: Settings) -> dict[str, pa.Table]:
    with Lake(settings) as lake:
        files = app_events.bronze_files(lake)
        assert all(len(paths) == 1 for paths in files.values()), files
        return {day: app_events.read_parquet(lake, paths[0]) for day, paths in files.items()}


def assert_bronze_matches(settings: Settings, expected: Counter[str]) -> None:
    tables = bronze_events(settings)
    assert {day: table.num_rows for day, table in tables.items()} == dict(expected)
    everything = pa.concat_tables(tables.values())
    keys = set(zip(everything["event_id"].to_pylist(), everything["received_at"].to_pylist(), strict=True))
    assert len(keys) == everything.num_rows  # nothing duplicated
    assert everything.schema == app_events.BRONZE_SCHEMA


def test_pull_app_events_lands_pages_writes_bronze_and_reruns_change_nothing(
    use_lake: Callable[..., Settings], clean_api: Settings
) -> None:
    from flows.app_events import pull_app_events

    settings = use_lake(api_port=clean_api.api_port)
    expected = expected_events()
    total = sum(expected.values())

    state = pull_app_events(limit=API_LIMIT, return_state=True)
    report = state.result()

    assert_bronze_matches(settings, expected)
    assert (report.events_received, report.events_added, report.rejected) == (total, total, ())
    assert report.pages_landed == -(-total // API_LIMIT)
    with Lake(settings) as lake:
        pages = [e for e in lake.files("landing", "app_events", suffix=".json") if "_watermark" not in e.path]
        watermark = app_events.read_watermark(lake)
        first_page = json.loads(lake.read_bytes("landing", pages[0].path))
    assert len(pages) == report.pages_landed
    assert first_page["page"] == {"offset": 0, "count": API_LIMIT}
    assert watermark.since == report.since_after == bronze_max_received_at(settings)
    assert len(artifact_rows(state, "app-events-pull")) == report.pages_landed
    with Lake(settings) as lake:
        a_file = lake.files("bronze", "app_events/event_month=2026-01", suffix=".parquet")[0].path
        one_partition = pq.read_table(pa.BufferReader(lake.read_bytes("bronze", a_file)))
    assert one_partition.num_rows == expected["2026-01"]
    assert set(one_partition["_load_id"].to_pylist()) == {report.load_id}
    assert {o[:7] for o in one_partition["occurred_at"].to_pylist()} == {"2026-01"}
    assert all(p.startswith("landing/app_events/") for p in one_partition["_source_file"].to_pylist())

    before = snapshot(settings, "bronze"), watermark
    again = pull_app_events(limit=API_LIMIT)
    assert (again.events_added, again.partitions_written, again.since_after) == (0, (), watermark.since)
    assert again.events_received == 1  # the watermark's own event, sent again and dropped
    with Lake(settings) as lake:
        assert (snapshot(settings, "bronze"), app_events.read_watermark(lake)) == before


def test_pull_app_events_survives_every_injected_fault(
    use_lake: Callable[..., Settings], faulty_api: Settings
) -> None:
    from flows.app_events import pull_app_events

    settings = use_lake(api_port=faulty_api.api_port)
    report = pull_app_events(limit=API_LIMIT, timeout_seconds=1.0)

    assert_bronze_matches(settings, expected_events())
    token = settings.api_token.get_secret_value()
    injected = httpx.get(
        f"{faulty_api.api_url}/v1/faults", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert all(injected[kind] >= 1 for kind in ("429", "500", "slow", "truncate", "duplicate")), injected
    assert report.rejected == ()
    assert report.events_received == sum(expected_events().values()) + 3 * injected["duplicate"]


def test_crash_between_landing_and_bronze_is_completed_by_the_next_run(
    use_lake: Callable[..., Settings], clean_api: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.app_events import pull_app_events

    settings = use_lake(api_port=clean_api.api_port)

    def crash(*args: Any) -> None:
        raise RuntimeError("injected crash after landing, before bronze")

    monkeypatch.setattr(app_events, "write_bronze", crash)
    with pytest.raises(RuntimeError, match="injected crash"):
        pull_app_events(limit=API_LIMIT)
    landed = snapshot(settings, "landing", "app_events")
    assert len(landed) == -(-sum(expected_events().values()) // API_LIMIT)
    assert snapshot(settings, "bronze") == {}
    monkeypatch.undo()

    report = pull_app_events(limit=API_LIMIT)
    assert_bronze_matches(settings, expected_events())
    assert report.since_before is None
    after = snapshot(settings, "landing", "app_events")
    assert {p: v for p, v in after.items() if "_watermark" not in p}.keys() == landed.keys()


def test_page_that_stays_malformed_is_rejected_and_reported_and_earlier_pages_reach_bronze(
    use_lake: Callable[..., Settings], poisoned_api: Settings
) -> None:
    from flows.app_events import PAGE_RETRIES, RejectedPagesError, pull_app_events

    settings = use_lake(api_port=poisoned_api.api_port)
    state = pull_app_events(limit=API_LIMIT, return_state=True)
    assert state.is_failed()
    with pytest.raises(RejectedPagesError) as failure:
        state.result()
    report = failure.value.report

    good = POISON_AT // API_LIMIT * API_LIMIT
    assert_bronze_matches(settings, expected_events(first=good))
    assert len(report.rejected) == 1
    rejected = report.rejected[0]
    with Lake(settings) as lake:
        path = rejected.path.removeprefix("landing/")
        assert path.startswith("_rejected/app_events/")
        body = lake.read_bytes("landing", path)
        reason = json.loads(lake.read_bytes("landing", f"{path}.reason.json"))
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    assert reason["reason"] == rejected.reason
    assert reason["reason"].startswith("malformed page: JSONDecodeError")
    assert reason["attempts"] == PAGE_RETRIES + 1
    assert reason["cursor"] is not None
    rows = artifact_rows(state, "app-events-pull")
    assert [r for r in rows if r["status"] == "rejected"] == [
        {"page": rejected.path, "status": "rejected", "events": 0, "reason": rejected.reason}
    ]
    assert sum(r["events"] for r in rows) == good
    assert report.since_after == bronze_max_received_at(settings)
    assert state.message is not None
    assert f"1 app_events page(s) rejected after {PAGE_RETRIES + 1} attempts" in state.message
    assert rejected.path in state.message


def bronze_max_received_at(settings: Settings) -> str:
    return max(max(t["received_at"].to_pylist()) for t in bronze_events(settings).values())


# --- reviews ----------------------------------------------------------------------------------------------
REVIEWS_SF = 0.01  # 2,000 reviews on day 0


@pytest.fixture(scope="module")
def event_hub(lake_stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The Event Hubs endpoint with a 1 s Capture window into its own zone containers."""
    from infra.local.services import eventhubs_spec

    prefix = f"t{uuid.uuid4().hex[:10]}"
    settings = lake_stack.model_copy(
        update={
            **{f"{zone}_container": f"{prefix}-{zone}" for zone in ZONES},
            "state_dir": tmp_path_factory.mktemp("eventhubs"),
            "amqp_port": free_port(),
            "eventhubs_health_port": free_port(),
            "capture_window_seconds": 1.0,
        }
    )
    with Lake(settings) as lake:
        lake.ensure_zones()
    with running(Launcher(settings.state_dir), [eventhubs_spec(settings)]):
        yield settings


def hub_settings(event_hub: Settings) -> dict[str, Any]:
    """The overrides that point a test's settings at the Event Hubs endpoint and its containers."""
    ports = event_hub.model_dump(include={"amqp_port", "eventhubs_health_port"})
    return ports | {f"{zone}_container": event_hub.container(zone) for zone in ZONES}


def captured_events(settings: Settings, expected: int, timeout: float = 60.0) -> int:
    """Wait until Capture has written ``expected`` events of the reviews hub to landing; the count."""
    deadline = time.monotonic() + timeout
    with Lake(settings) as lake:
        while True:
            files = reviews.list_capture_files(lake, settings)
            count = sum(reviews.count_events(lake.read_bytes("landing", f.path)) for f in files)
            if count >= expected or time.monotonic() > deadline:
                return count
            time.sleep(0.5)


def bronze_reviews(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Partition -> review records in the bronze Avro files (bodies decoded)."""
    found: dict[str, list[dict[str, Any]]] = {}
    with Lake(settings) as lake:
        for entry in lake.files("bronze", reviews.BRONZE_PREFIX, suffix=".avro"):
            partition = entry.path.split("/")[3]
            for record in fastavro.reader(io.BytesIO(lake.read_bytes("bronze", entry.path))):
                found.setdefault(partition, []).append(json.loads(record["Body"]))
    return found


def test_send_reviews_then_land_them_in_bronze_unchanged_and_rerun_copies_nothing(
    use_lake: Callable[..., Settings], event_hub: Settings
) -> None:
    from flows.reviews import land_reviews, send_reviews

    settings = use_lake(**hub_settings(event_hub))
    sent = list(iter_reviews(sf=REVIEWS_SF, seed=SEED, day=0, start=START))[:600]
    state = send_reviews(count=600, seed=SEED, sf=REVIEWS_SF, return_state=True)
    report = state.result()

    assert report.events == 600
    assert sum(report.events_by_partition.values()) == 600
    assert len(report.events_by_partition) == 4
    assert artifact_rows(state, "send-reviews") == [
        {"partition": pid, "events": n} for pid, n in report.events_by_partition.items()
    ]
    assert captured_events(settings, 600) == 600

    state = land_reviews(return_state=True)
    entries = state.result()
    with Lake(settings) as lake:
        landing = {
            f.path: lake.read_bytes("landing", f.path) for f in reviews.list_capture_files(lake, settings)
        }
        bronze = {
            e.path: lake.read_bytes("bronze", e.path) for e in lake.files("bronze", "reviews", suffix=".avro")
        }
        log = reviews.read_copy_log(lake)
    assert bronze == {f"reviews/{path.removeprefix('eventhubs/')}": data for path, data in landing.items()}
    assert sorted(e.source for e in log) == sorted(landing) == sorted(e.source for e in entries)
    by_partition = bronze_reviews(settings)
    assert {p: len(rs) for p, rs in by_partition.items()} == {
        p: n for p, n in report.events_by_partition.items() if n
    }
    assert Counter(r["review_id"] for rs in by_partition.values() for r in rs) == Counter(
        r["review_id"] for r in sent
    )  # malformed ones included: null ids, out-of-range ratings, orphans, duplicates
    received = sorted(json.dumps(r, sort_keys=True) for rs in by_partition.values() for r in rs)
    assert received == sorted(json.dumps(r, sort_keys=True) for r in sent)
    for p, rs in by_partition.items():  # a product's reviews all go to one partition
        assert not {r["product_id"] for r in rs} & {
            r["product_id"] for q, other in by_partition.items() if q != p for r in other
        }
    rows = artifact_rows(state, "land-reviews")
    assert sum(row["events"] for row in rows) == 600

    before = snapshot(settings, "bronze")
    assert land_reviews() == []
    assert snapshot(settings, "bronze") == before


def test_land_reviews_that_stops_between_copy_and_log_is_finished_by_the_next_run(
    use_lake: Callable[..., Settings], event_hub: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.reviews import land_reviews, send_reviews

    settings = use_lake(**hub_settings(event_hub))
    land_reviews()  # whatever an earlier test left
    started = time.monotonic()
    report = send_reviews(count=100, rate=200.0, seed=SEED + 1, sf=REVIEWS_SF)
    assert time.monotonic() - started >= 0.5 - 0.05  # paced: 100 events at 200/s
    with Lake(settings) as lake:
        total = sum(e.events for e in reviews.read_copy_log(lake))
    assert captured_events(settings, total + 100) == total + 100

    real_count = reviews.count_events
    calls: list[int] = []

    def crash_on_second_file(avro: bytes) -> int:
        calls.append(1)
        if len(calls) >= 2:
            raise RuntimeError("injected crash between the bronze copy and its copy-log entry")
        return real_count(avro)

    monkeypatch.setattr(reviews, "count_events", crash_on_second_file)
    with pytest.raises(RuntimeError, match="injected crash"):
        land_reviews()
    monkeypatch.setattr(reviews, "count_events", real_count)

    with Lake(settings) as lake:
        logged_before_crash = sum(e.events for e in reviews.read_copy_log(lake)) - total
    entries = land_reviews()
    assert logged_before_crash + sum(e.events for e in entries) == 100
    assert [e.recovered for e in entries].count(True) == 1  # in bronze already: logged, not copied again
    with Lake(settings) as lake:
        log = reviews.read_copy_log(lake)
        landing = reviews.list_capture_files(lake, settings)
    assert sorted(e.source for e in log) == sorted(f.path for f in landing)
    assert sum(e.events for e in log) == total + 100
    assert sum(report.events_by_partition.values()) == 100
