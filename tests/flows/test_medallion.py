"""The medallion flow end to end on the local lake (Azurite + DFS endpoint, Spark over abfs://) at SF0.01.

Day 1 is loaded, loaded again (a no-op), then day 2 arrives (new orders, customer changes). Every figure is
checked against the generator's manifest and against gold figures computed in plain Python.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from flows.medallion import (
    MedallionResult,
    gold_state,
    maintained_tables,
    medallion,
    record_gold_build,
    recorded_gold_if_nothing_new,
)
from infra import zones
from infra.settings import Settings, get_settings
from infra.storage import delta_io
from infra.storage.lake import Lake
from ingestion.synthetic import generate
from powerbi.gold_export import GOLD_OPS_TABLES, export_gold
from powerbi.gold_measures import core_measures_from_gold
from powerbi.tmdl import check_model_against_delta
from tests.conftest import with_fresh_zones
from tests.support.bronze import write_bronze, write_capture
from tests.support.expected import bad_ids, expected_gold, manifest
from transforms.catalog import GOLD, GOLD_TABLES, SCD2_HISTORY, SILVER_KEYS, SILVER_TABLES

pytestmark = [pytest.mark.services, pytest.mark.e2e, pytest.mark.spark]

SF, SEED, DAYS = 0.01, 7, 2
DAY1, DAY2 = "2026-01-01", "2026-01-02"
AS_OF = datetime(2026, 1, 3, tzinfo=UTC)
EVERY_CHECK = {f"{t.name}/{c.name}" for t in SILVER_TABLES for c in t.checks} | {
    f"{t}/{c.name}" for t in GOLD_TABLES for c in GOLD[t].checks
}
EVERY_PROFILE = {f"silver/{t}" for t in (*SILVER_KEYS, SCD2_HISTORY)} | {f"gold/{t}" for t in GOLD_TABLES}
POWERBI_MODEL = Path(__file__).resolve().parents[2] / "powerbi" / "Lakehouse.SemanticModel"
EXPECTATION_FOR_DEFECT = {
    "null_key": "{field}_not_null",
    "unparseable_number": "{field}_parseable",
    "unparseable_date": "{field}_parseable",
    "negative_quantity": "quantity_positive",
    "rating_out_of_range": "rating_in_range",
    "orphan_fk": "{field}_exists",
    "future_event": "{field}_not_in_future",
}


@dataclass
class Snapshot:
    result: MedallionResult
    checksums: dict[str, str]
    versions: dict[str, int | None]


@dataclass
class Runs:
    settings: Settings
    generated: Path
    day1: Snapshot
    rerun: Snapshot
    day2: Snapshot
    gold_export: Path
    local_bronze: Path

    def files(self, day: str, entity: str) -> int:
        """Bronze files of one day's entity, as uploaded."""
        return sum(1 for p in (self.local_bronze / day / entity).rglob("*") if p.is_file())


def _upload_bronze(settings: Settings, local_bronze: Path) -> None:
    with Lake(settings) as lake:
        for file in sorted(p for p in local_bronze.rglob("*") if p.is_file()):
            lake.upload_file("bronze", file.relative_to(local_bronze).as_posix(), file)


def _snapshot(spark: SparkSession, settings: Settings, result: MedallionResult) -> Snapshot:
    urls = {t: settings.lake_url("gold", t) for t in GOLD_TABLES}
    return Snapshot(
        result,
        {t: delta_io.content_checksum(spark, u) for t, u in urls.items()},
        {t: delta_io.table_version(spark, u) for t, u in urls.items()},
    )


@pytest.fixture(scope="module")
def runs(
    lake_stack: Settings, prefect_harness: None, spark: SparkSession, tmp_path_factory
) -> Iterator[Runs]:
    """Three medallion runs on fresh zone containers: day 1, day 1 again, day 2 (with maintenance)."""
    settings = with_fresh_zones(lake_stack)
    generated = tmp_path_factory.mktemp("generated")
    generate(generated, sf=SF, seed=SEED, days=DAYS, start=date(2026, 1, 1))
    local = tmp_path_factory.mktemp("bronze")
    with pytest.MonkeyPatch.context() as env:
        for key, value in settings.to_env().items():
            env.setenv(key, value)
        get_settings.cache_clear()
        write_bronze(generated, local / DAY1, DAY1)
        _upload_bronze(settings, local / DAY1)
        day1 = _snapshot(spark, settings, medallion(as_of=AS_OF, run_maintenance=False))
        rerun = _snapshot(spark, settings, medallion(as_of=AS_OF, run_maintenance=False))
        write_bronze(generated, local / DAY2, DAY2, sequence_start={p: 10_000 for p in range(4)})
        _upload_bronze(settings, local / DAY2)
        day2 = _snapshot(spark, settings, medallion(as_of=AS_OF, run_maintenance=True))
        export_dir = tmp_path_factory.mktemp("gold-export")
        exported = export_gold(settings, export_dir)
        assert set(exported) == {*GOLD_TABLES, *GOLD_OPS_TABLES}
        yield Runs(settings, generated, day1, rerun, day2, export_dir, local)
    get_settings.cache_clear()


def _silver(spark: SparkSession, settings: Settings, table: str):
    return spark.read.format("delta").load(settings.lake_url("silver", table))


def test_every_bad_record_is_quarantined_with_its_reason(runs: Runs, spark: SparkSession) -> None:
    expected: Counter[tuple[str, str, str]] = Counter()
    for row in manifest(runs.generated):
        if row["defect"] in EXPECTATION_FOR_DEFECT:
            name = EXPECTATION_FOR_DEFECT[row["defect"]].format(field=row["field"])
            expected[(row["entity"], row["record_id"] or "<null>", name)] += 1
    found: Counter[tuple[str, str, str]] = Counter()
    for entity in SILVER_KEYS:
        rows = (
            _silver(spark, runs.settings, f"quarantine_{entity}")
            .select("record_key", "expectation")
            .collect()
        )
        found.update((entity, r.record_key or "<null>", r.expectation) for r in rows)
    assert found == expected


def test_no_row_disappears_in_any_load(runs: Runs, spark: SparkSession) -> None:
    balance = spark.read.format("delta").load(runs.settings.lake_url("silver", "_ops", "load_balance"))
    rows = balance.collect()
    expected_files = sorted((e, runs.files(day, e)) for day in (DAY1, DAY2) for e in SILVER_KEYS)
    assert sorted((r.table_name, r.files) for r in rows) == expected_files
    for r in rows:
        assert r.bronze_rows == r.silver_rows + r.quarantined_rows + r.duplicate_rows, r
    loads = {load.table: load for load in runs.day1.result.loads}
    generated_rows = {
        e: sum(1 for _ in (runs.generated / "batch" / e / DAY1 / f"{e}.csv").open()) - 1
        for e in ("customers", "products", "orders", "order_lines", "finance_entries")
    }
    generated_rows |= {
        e: sum(1 for _ in (runs.generated / e / DAY1 / f"{e}.jsonl").open())
        for e in ("reviews", "app_events")
    }
    assert {e: loads[e].bronze for e in SILVER_KEYS} == generated_rows


def test_gold_figures_are_exact(runs: Runs, spark: SparkSession) -> None:
    expected = expected_gold(runs.generated, [DAY1, DAY2], AS_OF.date())
    monthly = spark.read.format("delta").load(runs.settings.lake_url("gold", "mart_monthly_revenue"))
    totals = monthly.agg(
        F.sum("revenue"), F.sum("order_count"), F.sum("net_order_count"), F.sum("cancelled_order_count")
    ).first()
    assert (totals[0], totals[1], totals[2], totals[3]) == (
        expected.revenue,
        expected.order_count,
        expected.net_order_count,
        expected.cancelled_order_count,
    )
    rfm = spark.read.format("delta").load(runs.settings.lake_url("gold", "mart_rfm"))
    assert {
        r.rfm_segment: r["count"] for r in rfm.groupBy("rfm_segment").count().collect()
    } == expected.rfm_segments


def test_power_bi_measures_match_the_clean_data(runs: Runs) -> None:
    expected = expected_gold(runs.generated, [DAY1, DAY2], AS_OF.date())
    measures = core_measures_from_gold(runs.gold_export)
    four = Decimal("0.0001")
    assert {
        "Revenue": measures.revenue,
        "Orders": measures.orders,
        "Average Order Value": measures.average_order_value.quantize(four),
        "Return Rate": round(measures.return_rate, 4),
        "Average Rating": round(measures.average_rating, 4),
        "Review Count": measures.review_count,
    } == {
        "Revenue": expected.revenue,
        "Orders": expected.order_count,
        "Average Order Value": (expected.revenue / expected.net_order_count).quantize(four),
        "Return Rate": round(expected.returned_order_count / expected.order_count, 4),
        "Average Rating": float(expected.average_rating),
        "Review Count": expected.review_count,
    }


def test_power_bi_model_matches_the_real_gold_tables(runs: Runs) -> None:
    assert check_model_against_delta(POWERBI_MODEL, runs.gold_export) == []


def test_a_rerun_with_nothing_new_changes_nothing(runs: Runs) -> None:
    assert [load.files for load in runs.rerun.result.loads] == [0] * len(SILVER_KEYS)
    assert runs.rerun.result.gold_rebuilt is False
    assert runs.rerun.result.gold_rows == runs.day1.result.gold_rows  # as the day-1 build recorded them
    assert runs.rerun.versions == runs.day1.versions
    assert runs.rerun.checksums == runs.day1.checksums
    # Decided without Spark: the SDK listing and delta-rs; no Spark task ran.
    assert _task_names(runs.rerun.result.run_id) == ["nothing-new"]
    assert "bronze-files" in _task_names(runs.day2.result.run_id)


def _task_names(flow_run_id: str) -> list[str]:
    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(flow_run_id)]))
        )
    return sorted(r.name for r in task_runs)


def _changed_customers(generated: Path) -> set[str]:
    """Customers whose day-2 row changes segment, country or email (trimmed, case-folded) from day 1."""
    import csv

    def rows(day: str) -> dict[str, dict[str, str]]:
        with (generated / "batch" / "customers" / day / "customers.csv").open(newline="") as handle:
            return {r["customer_id"]: r for r in csv.DictReader(handle) if r["customer_id"]}

    def tracked(r: dict[str, str]) -> tuple[str, str, str]:
        return r["segment"].strip(), r["country"].strip().upper(), r["email"].strip().lower()

    first, second = rows(DAY1), rows(DAY2)
    return {c for c, r in second.items() if c in first and tracked(r) != tracked(first[c])}


def test_day_two_loads_only_new_files_and_versions_customers(runs: Runs, spark: SparkSession) -> None:
    assert {load.table: load.files for load in runs.day2.result.loads} == {
        e: runs.files(DAY2, e) for e in SILVER_KEYS
    }
    history = _silver(spark, runs.settings, "customer_history")
    per_customer = history.groupBy("customer_id").agg(
        F.count("*").alias("versions"),
        F.sum(F.col("is_current").cast("int")).alias("current"),
        F.sum(F.col("valid_to").isNull().cast("int")).alias("open"),
    )
    assert per_customer.where("current != 1 OR open != 1").count() == 0
    versioned = {r.customer_id for r in per_customer.where("versions = 2").collect()}
    assert per_customer.where("versions > 2").count() == 0
    assert versioned == _changed_customers(runs.generated)
    for table in ("dim_customer", "fact_sales", "mart_monthly_revenue"):
        assert runs.day2.checksums[table] != runs.day1.checksums[table], table
    # Every entity changed on both days, so both builds rewrote every gold table, checked and profiled all.
    assert runs.day1.result.gold_written == runs.day2.result.gold_written == GOLD_TABLES
    for result in (runs.day1.result, runs.day2.result):
        assert set(result.checks_evaluated) == EVERY_CHECK
        assert set(result.tables_profiled) == EVERY_PROFILE


def test_maintenance_covers_every_delta_table_the_runs_wrote(runs: Runs) -> None:
    # Quarantine and the _ops tables grow by a file or so per run too (hourly: 24 a day); unmaintained,
    # every run's read of the processed-file log would list more files.
    with Lake(runs.settings) as lake:
        found = {
            f"{zone}/{entry.path.removesuffix('/_delta_log')}"
            for zone in ("silver", "gold")
            for entry in lake.list(zone)
            if entry.is_directory and entry.path.endswith("/_delta_log")
        }
    assert found == set(maintained_tables(runs.settings))


def test_the_notebooks_run_end_to_end_on_the_same_lake(runs: Runs, tmp_path: Path) -> None:
    """Runs last: the notebooks execute against this module's lake and agree with what the flow wrote."""
    import runpy

    notebooks = Path(__file__).resolve().parents[2] / "notebooks"
    before = dict(runs.day2.checksums)
    with pytest.MonkeyPatch.context() as env:
        for key, value in runs.settings.to_env().items():
            env.setenv(key, value)
        env.setenv("LAKEHOUSE_NOTEBOOK_OUT", str(tmp_path))
        env.setenv("LAKEHOUSE_AS_OF", AS_OF.isoformat())
        get_settings.cache_clear()
        first = runpy.run_path(str(notebooks / "01_bronze_to_silver.py"))
        second = runpy.run_path(str(notebooks / "02_silver_to_gold.py"))
        runpy.run_path(str(notebooks / "03_explore_gold.py"))
        spark = second["spark"]
        after = {t: delta_io.content_checksum(spark, runs.settings.lake_url("gold", t)) for t in GOLD_TABLES}
    get_settings.cache_clear()
    silver_rows = {e: _silver(spark, runs.settings, e).count() for e in SILVER_KEYS}
    assert {e: c.silver for e, c in first["counts"].items()} == silver_rows
    assert all(c.is_balanced for c in first["counts"].values())
    assert second["gold_rows"] == runs.day2.result.gold_rows
    assert after == before
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "funnel.png",
        "monthly_revenue.png",
        "ratings.png",
        "rfm_segments.png",
    ]


def _flagged_days(revenue: dict[date, Decimal]) -> list[date]:
    """Days outside median +/- 6 x 1.4826 x MAD of the 28 days before (from 14 days on), in plain Python."""
    import statistics
    from datetime import timedelta

    first, last = min(revenue), max(revenue)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    values = {d: float(revenue.get(d, 0)) for d in days}
    flagged = []
    for i, day in enumerate(days):
        history = [values[d] for d in days[max(0, i - 28) : i]]
        if len(history) < 14:
            continue
        median = statistics.median(history)
        mad = statistics.median(abs(v - median) for v in history)
        half = max(6 * 1.4826 * mad, 0.1 * abs(median))
        if values[day] < max(median - half, 0) or values[day] > median + half:
            flagged.append(day)
    return flagged


def test_analytics_marts_agree_with_the_clean_data(runs: Runs, spark: SparkSession) -> None:
    import csv

    from tests.support.expected import bad_ids, daily_revenue

    expected = expected_gold(runs.generated, [DAY1, DAY2], AS_OF.date())

    def gold_df(table: str):
        return spark.read.format("delta").load(runs.settings.lake_url("gold", table))

    c360 = gold_df("mart_customer_360").agg(F.sum("lifetime_value"), F.sum("purchase_count"), F.count("*"))
    current = gold_df("dim_customer").where("is_current AND customer_key != -1").count()
    assert tuple(c360.first()) == (expected.revenue, expected.net_order_count, current)

    bad = bad_ids(runs.generated)["finance_entries"]
    booked = Decimal(0)
    for day in (DAY1, DAY2):
        path = runs.generated / "batch" / "finance_entries" / day / "finance_entries.csv"
        with path.open(newline="") as handle:
            rows = {
                r["entry_id"]: r for r in csv.DictReader(handle) if r["entry_id"] and r["entry_id"] not in bad
            }
        booked += sum((Decimal(r["amount"]) for r in rows.values() if r["kind"] == "revenue"), Decimal(0))
    finance = gold_df("mart_finance_monthly").agg(F.sum("revenue"), F.sum("sales_revenue")).first()
    assert tuple(finance) == (booked, expected.revenue)

    anomalies = gold_df("mart_revenue_anomalies")
    flagged = [r.order_date for r in anomalies.where("is_anomaly").orderBy("order_date").collect()]
    assert flagged == _flagged_days(daily_revenue(runs.generated, [DAY1, DAY2]))
    warning = [
        r for r in runs.day2.result.dq if (r["table_name"], r["expectation"]) == (
            "mart_revenue_anomalies", "revenue_within_expected_band")
    ]  # fmt: skip
    assert [(w["severity"], w["failed_count"]) for w in warning] == [("warn", len(flagged))]


def test_profiles_cover_every_silver_and_gold_table_with_its_row_count(
    runs: Runs, spark: SparkSession
) -> None:
    profiles = spark.read.format("delta").load(runs.settings.lake_url("gold", "_ops", "profiles"))
    rows = profiles.where(F.col("run_id") == runs.day2.result.run_id).select(
        "zone", "table_name", "row_count"
    )
    counts = {(r.zone, r.table_name): r.row_count for r in rows.distinct().collect()}
    silver = {
        ("silver", t): _silver(spark, runs.settings, t).count() for t in (*SILVER_KEYS, "customer_history")
    }
    assert counts == silver | {("gold", t): n for t, n in runs.day2.result.gold_rows.items()}


# Last in the module: the runs below add reviews and rebuild gold after the other tests have read it.
NEW_REVIEWS = 5
REVIEW_TABLES = ("dim_date", "fact_reviews", "mart_product_rating", "mart_customer_360")
# The table checks that read silver reviews or one of those gold tables: the only ones such a run evaluates.
REVIEW_CHECKS = {
    "reviews/keys_unique",
    "fact_reviews/product_key_not_null",
    "fact_reviews/product_key_known",
    "fact_reviews/product_key_in_dim_product",
    "mart_customer_360/keys_unique",
    "mart_customer_360/customer_key_in_dim_customer",
}


@pytest.fixture(scope="module")
def reviews_only(runs: Runs, spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """A run that finds only new reviews (a Capture file of five new ones), as the hourly medallion does."""
    bad = bad_ids(runs.generated)["reviews"]
    lines = (runs.generated / "reviews" / DAY2 / "reviews.jsonl").read_text().splitlines()
    clean = [json.loads(line) for line in lines]
    clean = [r for r in clean if r.get("review_id") and r["review_id"] not in bad and r.get("product_id")]
    new = [r | {"review_id": f"{r['review_id']}-late", "rating": 1} for r in clean[:NEW_REVIEWS]]
    source = tmp_path_factory.mktemp("late-reviews") / "reviews.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in new))
    local = source.parent / "bronze"
    write_capture(source, local, DAY2, {p: 20_000 for p in range(4)})
    with Lake(runs.settings) as lake:
        for file in sorted(p for p in local.rglob("*.avro")):
            # Beside the day-2 Capture files of the same minute, as a later window would name it.
            name = file.relative_to(local).as_posix().replace(".avro", "-late.avro")
            lake.upload_file("bronze", f"reviews/{name}", file)
    return _snapshot(spark, runs.settings, medallion(as_of=AS_OF, run_maintenance=False))


def test_new_reviews_alone_rewrite_only_the_gold_tables_that_read_them(
    runs: Runs, reviews_only: Snapshot
) -> None:
    loads = {load.table: load for load in reviews_only.result.loads}
    assert {t for t, load in loads.items() if load.files} == {"reviews"}
    assert (loads["reviews"].bronze, loads["reviews"].silver) == (NEW_REVIEWS, NEW_REVIEWS)
    assert reviews_only.result.gold_written == REVIEW_TABLES
    for table in GOLD_TABLES:
        version = runs.day2.versions[table]
        assert reviews_only.versions[table] == (version + 1 if table in REVIEW_TABLES else version), table
    day2_rows = runs.day2.result.gold_rows
    assert reviews_only.result.gold_rows == day2_rows | {
        "fact_reviews": day2_rows["fact_reviews"] + NEW_REVIEWS
    }
    assert reviews_only.checksums["mart_product_rating"] != runs.day2.checksums["mart_product_rating"]
    # The other checks and profiles are day 2's, recorded again (the full rebuild below evaluates them all).
    assert set(reviews_only.result.checks_evaluated) == REVIEW_CHECKS
    assert set(reviews_only.result.tables_profiled) == {
        "silver/reviews",
        *(f"gold/{t}" for t in REVIEW_TABLES),
    }


def _record_build(spark: SparkSession, settings: Settings, **changes: object) -> None:
    """Append a copy of the last gold_builds row with ``changes`` (as older code would have written it)."""
    builds_url = zones.ops_url(settings, "gold_builds")
    builds = spark.read.format("delta").load(builds_url)
    last = builds.orderBy(F.col("built_at").desc()).first()
    assert last is not None and last.silver_state >= 0
    row = last.asDict() | {"run_id": "older-code", "built_at": datetime.now(UTC)} | changes
    df = spark.createDataFrame([tuple(row[c] for c in builds.columns)], builds.schema)
    df.write.format("delta").mode("append").save(builds_url)


def test_a_gold_table_the_last_build_did_not_write_is_built_alone_by_a_run_with_nothing_new(
    runs: Runs, reviews_only: Snapshot, spark: SparkSession
) -> None:
    """As after an upgrade that adds a mart: gold is current for silver, but one catalog table is missing."""
    _record_build(
        spark,
        runs.settings,
        gold_rows={t: n for t, n in reviews_only.result.gold_rows.items() if t != "mart_funnel"},
    )
    with Lake(runs.settings) as lake:
        assert lake.delete("gold", "mart_funnel", recursive=True)

    result = medallion(as_of=AS_OF, run_maintenance=False)

    assert [load.files for load in result.loads] == [0] * len(SILVER_KEYS)
    assert (result.gold_rebuilt, result.gold_written) == (True, ("mart_funnel",))
    assert result.gold_rows == reviews_only.result.gold_rows
    funnel = delta_io.content_checksum(spark, runs.settings.lake_url("gold", "mart_funnel"))
    assert funnel == reviews_only.checksums["mart_funnel"]


def test_a_full_rebuild_gives_the_gold_that_the_partial_builds_left(
    runs: Runs, reviews_only: Snapshot, spark: SparkSession
) -> None:
    """A build log of older code (no silver versions) that lacks a mart: every table is rewritten, to exactly
    the content the partial builds above left."""
    without_funnel = {t: n for t, n in reviews_only.result.gold_rows.items() if t != "mart_funnel"}
    _record_build(spark, runs.settings, gold_rows=without_funnel, silver_versions=None, as_of_date=None)

    result = medallion(as_of=AS_OF, run_maintenance=False)

    assert result.gold_written == GOLD_TABLES
    assert result.gold_rows == reviews_only.result.gold_rows
    assert _snapshot(spark, runs.settings, result).checksums == reviews_only.checksums
    # Every check and profile evaluated anew equals what the partial run recorded (most of it carried over).
    assert (set(result.checks_evaluated), set(result.tables_profiled)) == (EVERY_CHECK, EVERY_PROFILE)
    full, partial = _checks_of(result), _checks_of(reviews_only.result)
    assert set(full) == EVERY_CHECK
    assert {key: partial[key] for key in full} == full
    assert _profiles_of(spark, runs.settings, result) == _profiles_of(
        spark, runs.settings, reviews_only.result
    )


def test_a_build_recorded_after_maintenance_compacted_the_processed_file_log_stays_current(
    runs: Runs, spark: SparkSession
) -> None:
    """OPTIMIZE (and VACUUM) commit new versions of the processed-file log; the build's record follows them,
    so the next run with nothing new still finds gold current, and answers without Spark."""
    medallion(as_of=AS_OF, run_maintenance=False)  # gold current for this silver, whatever ran before
    state = gold_state.fn()
    assert state.is_current()
    delta_io.optimize(spark, zones.ops_url(runs.settings, "processed_files"))  # maintenance, past 8 files
    assert not gold_state.fn().is_current()  # the same log at a new version

    record_gold_build.fn("after-maintenance", state, state.built_rows or {}, AS_OF, maintained=True)

    assert gold_state.fn().is_current()
    assert recorded_gold_if_nothing_new.fn() == state.built_rows


def _checks_of(result: MedallionResult) -> dict[str, tuple[object, ...]]:
    """The run's dq_results rows as ``table/expectation`` -> severity, passed, failed, samples."""
    return {
        f"{r['table_name']}/{r['expectation']}": (
            r["severity"], r["passed_count"], r["failed_count"], r["sample_keys"]
        )
        for r in result.dq
    }  # fmt: skip


def _profiles_of(
    spark: SparkSession, settings: Settings, result: MedallionResult
) -> list[tuple[object, ...]]:
    """The run's gold/_ops/profiles rows without their run id, sorted."""
    profiles = spark.read.format("delta").load(settings.lake_url("gold", "_ops", "profiles"))
    rows = profiles.where(F.col("run_id") == result.run_id).drop("run_id").collect()
    return sorted((tuple(r) for r in rows), key=repr)
