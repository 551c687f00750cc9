"""The `lakehouse` parent flow end to end on the real local stack at SF0.01, twice.

Azurite + DFS endpoint (session), the Event Hubs endpoint with a short Capture window and the app_events
API (this module), the Prefect harness. Gold row counts are exact against the generator's clean data; the
second run adds nothing.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from prefect.settings import PREFECT_API_URL

from flows.lakehouse import PipelineResult, lakehouse
from infra.launcher import Launcher, free_port, running
from infra.services import eventhubs_spec
from infra.settings import Settings, get_settings
from ingestion.app_events_api import ApiConfig
from ingestion.services import app_events_api_spec
from ingestion.synthetic import generate
from tests.conftest import with_fresh_zones
from tests.support.expected import bad_ids

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


@pytest.fixture(scope="module")
def pipeline(lake_stack: Settings, prefect_harness: None, spark, tmp_path_factory) -> Iterator[Pipeline]:  # type: ignore[no-untyped-def]
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
    services = [eventhubs_spec(settings), app_events_api_spec(settings, api)]
    with running(Launcher(settings.state_dir), services), pytest.MonkeyPatch.context() as env:
        for key, value in settings.to_env().items():
            env.setenv(key, value)
        get_settings.cache_clear()
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
        yield Pipeline(settings, generated, first, second)
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


def test_every_source_reached_bronze_and_balanced(pipeline: Pipeline) -> None:
    loads = {load.table: load for load in pipeline.first.medallion.loads}
    for load in loads.values():
        assert load.bronze == load.silver + load.quarantined + load.duplicates, load
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
