"""The `lakehouse` parent flow end to end on the real local stack at SF0.01, twice.

Azurite + DFS endpoint (session), the Event Hubs endpoint with a short Capture window and the app_events
API (this module), the Prefect harness. Gold row counts are exact against the generator's clean data; the
second run adds nothing.
"""

from __future__ import annotations

import csv
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterTaskRunId,
    TaskRunFilter,
    TaskRunFilterName,
)
from prefect.client.schemas.objects import State
from prefect.client.schemas.sorting import FlowRunSort
from prefect.settings import PREFECT_API_URL
from pyspark.sql import functions as F

from flows.alerts import configure_alerts
from flows.lakehouse import PipelineResult, PipelineStepError, lakehouse
from infra.local.app_events_api import ApiConfig
from infra.local.launcher import Launcher, free_port, running
from infra.local.services import alerts_spec, app_events_api_spec, eventhubs_spec
from infra.settings import Settings, get_settings
from ingestion.synthetic import generate
from tests.conftest import with_fresh_zones
from tests.support.expected import bad_ids
from transforms.checks import SAMPLES

pytestmark = [pytest.mark.services, pytest.mark.e2e, pytest.mark.spark]

SF, SEED, START = 0.01, 7, date(2026, 1, 1)
AS_OF = datetime(2026, 1, 2, tzinfo=UTC)
ARTIFACT_KEYS = {"lakehouse-row-counts", "lakehouse-quarantine", "lakehouse-dq", "lakehouse-gold"}


@dataclass
class Pipeline:
    settings: Settings
    generated: Path
    first: PipelineResult
    second: PipelineResult
    failed: State


@pytest.fixture(scope="module")
def pipeline(lake_stack: Settings, prefect_harness: None, spark, tmp_path_factory) -> Iterator[Pipeline]:
    settings = with_fresh_zones(
        lake_stack,
        state_dir=tmp_path_factory.mktemp("pipeline-state"),
        cache_dir=tmp_path_factory.mktemp("pipeline-cache"),
        amqp_port=free_port(),
        eventhubs_health_port=free_port(),
        api_port=free_port(),
        capture_window_seconds=2.0,
    )
    generated = tmp_path_factory.mktemp("generated")
    generate(generated, sf=SF, seed=SEED, days=1, start=START)
    api = ApiConfig(sf=SF, seed=SEED, days=1, start=START)
    services = [eventhubs_spec(settings), app_events_api_spec(settings, api), alerts_spec(settings)]
    with running(Launcher(settings.state_dir), services), pytest.MonkeyPatch.context() as env:
        for key, value in settings.to_env().items():
            env.setenv(key, value)
        get_settings.cache_clear()
        automations = configure_alerts(settings)
        parameters = {
            "sf": SF,
            "seed": SEED,
            "days": 1,
            "start": START,
            "as_of": AS_OF,
            "run_maintenance": False,
        }
        first = lakehouse(**parameters, capture_grace_seconds=60)
        second = lakehouse(**parameters, capture_grace_seconds=60)
        # Day 2 arrives while silver holds a duplicated product key, with no quarantine allowed.
        products_url = settings.lake_url("silver", "products")
        spark.read.format("delta").load(products_url).orderBy("product_id").limit(1).write.format(
            "delta"
        ).mode("append").save(products_url)
        failed = lakehouse(
            **parameters | {"days": 2, "as_of": AS_OF + timedelta(days=1)},
            max_quarantine_fraction=0.0,
            capture_grace_seconds=60,
            return_state=True,
        )
        yield Pipeline(settings, generated, first, second, failed)
        # The session's Prefect server outlives this module's alerts receiver: later modules' runs (a
        # revenue-anomaly warning, say) must not post to a receiver that is gone.
        with get_client(sync_client=True) as client:
            for name in automations:
                for automation in client.read_automations_by_name(name=name):
                    client.delete_automation(automation.id)
    get_settings.cache_clear()


def _clean_count(generated: Path, entity: str, key: tuple[str, ...]) -> int:
    """Distinct business keys of the entity's clean records (day 0)."""
    bad = bad_ids(generated)[entity]
    day = START.isoformat()
    if entity in ("reviews", "app_events"):
        rows = [
            json.loads(line)
            for line in (generated / entity / day / f"{entity}.jsonl").read_text().splitlines()
        ]
    else:
        with (generated / "batch" / entity / day / f"{entity}.csv").open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    keys = {"#".join(str(r[k]) for k in key) for r in rows if all(r[k] not in (None, "") for k in key)}
    return len(keys - bad)


def test_gold_row_counts_are_exact(pipeline: Pipeline) -> None:
    g = pipeline.generated
    gold = pipeline.first.medallion.gold_rows
    assert {
        t: gold[t] for t in ("dim_customer", "dim_product", "fact_sales", "fact_reviews", "fact_app_events")
    } == {
        "dim_customer": _clean_count(g, "customers", ("customer_id",)) + 1,
        "dim_product": _clean_count(g, "products", ("product_id",)) + 1,
        "fact_sales": _clean_count(g, "order_lines", ("order_id", "line_number")),
        "fact_reviews": _clean_count(g, "reviews", ("review_id",)),
        "fact_app_events": _clean_count(g, "app_events", ("event_id",)),
    }


def test_every_source_reached_bronze(pipeline: Pipeline) -> None:
    # (bronze = silver + quarantined + duplicates is enforced by the flow before it writes: not re-checked.)
    loads = {load.table: load for load in pipeline.first.medallion.loads}
    day = START.isoformat()
    assert loads["reviews"].bronze == len(
        (pipeline.generated / "reviews" / day / "reviews.jsonl").read_text().splitlines()
    )
    assert (
        loads["orders"].bronze
        == sum(1 for _ in (pipeline.generated / "batch" / "orders" / day / "orders.csv").open()) - 1
    )


def test_run_summary_artifacts_exist(pipeline: Pipeline) -> None:
    body = {"artifacts": {"key": {"any_": sorted(ARTIFACT_KEYS)}}, "limit": 50, "offset": 0}
    response = httpx.post(f"{PREFECT_API_URL.value()}/artifacts/filter", json=body, timeout=30)
    response.raise_for_status()
    found = {a["key"] for a in response.json()}
    assert found == ARTIFACT_KEYS


def test_a_second_run_is_a_no_op(pipeline: Pipeline) -> None:
    assert [load.files for load in pipeline.second.medallion.loads] == [0] * len(
        pipeline.second.medallion.loads
    )
    assert pipeline.second.medallion.gold_rebuilt is False
    assert pipeline.second.medallion.gold_rows == pipeline.first.medallion.gold_rows


def test_spark_starts_beside_ingestion_only_in_the_runs_whose_batch_brought_new_files(
    pipeline: Pipeline,
) -> None:
    """The first run and day 2 copy batch files (Spark starts early); the no-op re-run starts none. The
    first warms the new JVM up while ingestion runs; day 2's JVM is warm already (the same process)."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["lakehouse"])), sort=FlowRunSort.START_TIME_ASC
        )
        starts = [
            client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])),
                task_run_filter=TaskRunFilter(name=TaskRunFilterName(any_=["spark-start"])),
            )
            for run in runs
        ]
        warm_ups = [
            [
                log.message
                for start in started
                for log in client.read_logs(LogFilter(task_run_id=LogFilterTaskRunId(any_=[start.id])))
                if "warm-up" in log.message
            ]
            for started in starts
        ]
    assert [len(started) for started in starts] == [1, 0, 1]
    assert [len(messages) for messages in warm_ups] == [1, 0, 0]
    assert re.fullmatch(r"Spark warm-up beside ingestion: [0-6] of 6 steps in \d+\.\d s", warm_ups[0][0])


def _medallion_run_id(state: State) -> str:
    match = re.search(r"run ([0-9a-f-]{36})\)", state.message or "")
    assert match, state.message
    return match.group(1)


def test_a_failed_quality_check_fails_the_medallion_and_the_parent_after_writing_the_results(
    pipeline: Pipeline, spark
) -> None:
    state = pipeline.failed
    assert (state.type.value, state.name) == ("FAILED", "DataQualityFailed")
    with pytest.raises(PipelineStepError, match="step 'medallion' failed: DataQualityError: error-severity"):
        state.result()
    run_id = _medallion_run_id(state)
    with get_client(sync_client=True) as client:
        medallion_run = client.read_flow_run(run_id)
    assert medallion_run.state_name == "DataQualityFailed"

    settings = pipeline.settings
    balance = {
        r["table_name"]: r["quarantined_rows"]
        for r in spark.read.format("delta")
        .load(settings.lake_url("silver", "_ops", "load_balance"))
        .where(F.col("run_id") == run_id)
        .collect()
    }
    product_ids = [
        r["product_id"]
        for r in spark.read.format("delta").load(settings.lake_url("silver", "products")).collect()
    ]
    duplicated = sorted(p for p in set(product_ids) if product_ids.count(p) > 1)
    table_checks = F.col("expectation").isin("keys_unique", "quarantine_at_most_0") | F.col(
        "table_name"
    ).rlike("^(fact|mart|dim)_")
    failing = {
        (r["table_name"], r["expectation"]): (r["failed_count"], list(r["sample_keys"]))
        for r in spark.read.format("delta")
        .load(settings.lake_url("gold", "_ops", "dq_results"))
        .where(
            (F.col("run_id") == run_id)
            & (F.col("severity") == "error")
            & (F.col("failed_count") > 0)
            & table_checks
        )
        .collect()
    }
    assert len(duplicated) == 1
    expected = {("products", "keys_unique"): (1, duplicated)} | {
        (table, "quarantine_at_most_0"): (quarantined, [])
        for table, quarantined in balance.items()
        if quarantined
    }
    assert failing == expected
    assert len(expected) >= 3  # the day-2 batch has bad records in several entities

    body = {
        "artifacts": {"key": {"any_": ["medallion-dq"]}, "flow_run_id": {"any_": [run_id]}},
        "limit": 5,
        "offset": 0,
    }
    response = httpx.post(f"{PREFECT_API_URL.value()}/artifacts/filter", json=body, timeout=30)
    response.raise_for_status()
    (artifact,) = response.json()
    for (table, expectation), (count, _) in expected.items():
        assert f"| {table} | {expectation} | error |" in artifact["data"]
        assert any(
            line.startswith(f"| {table} | {expectation} | error |") and line.endswith(f"| {count} |")
            for line in artifact["data"].splitlines()
        )


def test_a_flagged_revenue_day_posts_one_alert_naming_the_days_gold_flags(pipeline: Pipeline, spark) -> None:
    """The failed run's gold flags day 2 (its volume jumps over day 0's year): a warning, and its alert."""
    anomalies = spark.read.format("delta").load(pipeline.settings.lake_url("gold", "mart_revenue_anomalies"))
    flagged = [str(r.order_date) for r in anomalies.where("is_anomaly").orderBy("order_date").collect()]
    assert flagged, "the two-day run's gold flags no day: nothing for this test to check"
    url = f"{pipeline.settings.alerts_receiver_url}/alerts"
    deadline, found = time.monotonic() + 60, []
    while time.monotonic() < deadline and not found:
        alerts = httpx.get(url, timeout=10).json()
        found = [a for a in alerts if a["message"]["subject"].startswith("lakehouse: revenue anomaly")]
        time.sleep(1)
    assert len(found) == 1, found
    message = found[0]["message"]
    assert message["subject"] == f"lakehouse: revenue anomaly ({len(flagged)} days)"
    assert all(day in message["text"] for day in flagged[:SAMPLES]), message["text"]  # samples: the first 5


def test_a_failed_quality_check_posts_exactly_one_alert_naming_the_run_and_the_checks(
    pipeline: Pipeline,
) -> None:
    run_id = _medallion_run_id(pipeline.failed)
    url = f"{pipeline.settings.alerts_receiver_url}/alerts"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not httpx.get(url, timeout=10).json():
        time.sleep(1)
    time.sleep(5)  # a second notification (e.g. for the parent's failure) would arrive by now
    # Revenue-anomaly warnings (day 2's volume is a jump over day 0's year) post their own alerts.
    received = [
        a
        for a in httpx.get(url, timeout=10).json()
        if not a["message"]["subject"].startswith("lakehouse: revenue anomaly")
    ]
    assert len(received) == 1, received
    message = received[0]["message"]
    assert message["subject"].startswith("lakehouse: data quality failed (")
    assert message["text"].startswith(f"Data quality failed in medallion (flow run {run_id}): ")
    assert "products.keys_unique: 1 failed" in message["text"]
