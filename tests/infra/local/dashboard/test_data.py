"""The dashboard's sums and joins on tiny frames, exactly; and its service spec."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd

from infra.local.dashboard import data
from infra.local.services import dashboard_spec, stack_specs
from infra.settings import Settings
from infra.storage.delta_rs import storage_options
from tests.conftest import make_settings


def at(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_lifetime_value_sums_every_version_of_a_customer_and_skips_cancelled_and_returned() -> None:
    sales = pd.DataFrame(
        {
            "order_id": ["O1", "O1", "O2", "O3", "O4", "O5"],
            "customer_key": [1, 1, 2, 3, 3, -1],
            "ordered_at": [
                at("2026-01-05"),
                at("2026-01-05"),
                at("2026-03-01"),
                at("2026-02-01"),
                at("2026-02-02"),
                at("2026-02-03"),
            ],
            "net_amount": [
                Decimal("10.00"),
                Decimal("5.50"),
                Decimal("4.00"),
                Decimal("7.00"),
                Decimal("9.00"),
                Decimal("1.00"),
            ],
            "is_cancelled": [False, False, False, True, False, False],
            "is_returned": [False, False, None, False, False, False],
        }
    )
    customers = pd.DataFrame(
        {
            "customer_key": [-1, 1, 2, 3],
            "customer_id": ["unknown", "C1", "C1", "C2"],
            "segment": ["unknown", "consumer", "enterprise", "consumer"],
            "region": ["unknown", "AMER", "EMEA", "APAC"],
            "is_current": [True, False, True, True],
        }
    )
    clv = data.lifetime_value_from_facts(sales, customers)
    assert clv.to_dict("records") == [
        {
            "customer_id": "C1",
            "lifetime_value": Decimal("19.50"),
            "order_count": 2,
            "first_order_at": at("2026-01-05"),
            "last_order_at": at("2026-03-01"),
            "average_order_value": Decimal("9.75"),
            "segment": "enterprise",
            "region": "EMEA",
        },
        {
            "customer_id": "C2",
            "lifetime_value": Decimal("9.00"),
            "order_count": 1,
            "first_order_at": at("2026-02-02"),
            "last_order_at": at("2026-02-02"),
            "average_order_value": Decimal("9.00"),
            "segment": "consumer",
            "region": "APAC",
        },
    ]


def test_lifetime_value_comes_from_the_customer_mart_once_it_exists() -> None:
    sales = pd.DataFrame(
        columns=["order_id", "customer_key", "ordered_at", "net_amount", "is_cancelled", "is_returned"]
    )
    customers = pd.DataFrame(columns=["customer_key", "customer_id", "segment", "region", "is_current"])
    mart = pd.DataFrame(
        {
            "customer_id": ["C1"],
            "lifetime_value": [Decimal("3.00")],
            "segment": ["consumer"],
            "region": ["EMEA"],
        }
    )
    assert data.lifetime_values(mart, sales, customers) == (mart, "gold/mart_customer_360")
    fallback, source = data.lifetime_values(None, sales, customers)
    assert (len(fallback), source) == (0, "gold/fact_sales + gold/dim_customer")
    # A mart without the columns the page shows is not used (the facts still are).
    assert data.lifetime_values(mart.drop(columns="region"), sales, customers)[1] == source


def test_runs_are_ordered_by_their_first_load_not_by_their_id() -> None:
    dq = pd.DataFrame(
        {
            "run_id": ["b", "b", "a", "a", "a"],
            "expectation": ["unique", "known", "unique", "known", "range"],
            "severity": ["error", "warn", "error", "warn", "error"],
            "failed_count": [0, 2, 1, 0, None],
        }
    )
    balance = pd.DataFrame(
        {"run_id": ["a", "b", "b"], "loaded_at": [at("2026-01-02"), at("2026-01-01"), at("2026-01-03")]}
    )
    runs = data.dq_runs(dq, balance)
    assert runs[["run_id", "checks", "failed_errors", "failed_warnings", "failed_rows"]].to_dict(
        "records"
    ) == [
        {"run_id": "b", "checks": 2, "failed_errors": 0, "failed_warnings": 1, "failed_rows": 2.0},
        {"run_id": "a", "checks": 3, "failed_errors": 1, "failed_warnings": 0, "failed_rows": 1.0},
    ]


def test_latency_per_hop_and_events_per_second() -> None:
    reviews = pd.DataFrame(
        {
            "review_id": ["R1", "R2", "R3"],
            "partition_id": ["0", "0", "1"],
            "enqueued_at": [
                at("2026-01-05 10:00:00.5"),
                at("2026-01-05 10:00:00.9"),
                at("2026-01-05 10:00:02"),
            ],
            "_source_file": ["abfs://bronze@acct.dfs.core.windows.net/reviews/p0.avro"] * 2
            + ["abfs://bronze@acct.dfs.core.windows.net/reviews/p1.avro"],
            "_ingested_at": [at("2026-01-05 10:01:00")] * 2 + [at("2026-01-05 10:03:00")],
        }
    )
    copy_log = pd.DataFrame(
        {"destination": ["reviews/p0.avro", "reviews/p1.avro"],
         "copied_at": [at("2026-01-05 10:00:30.5"), at("2026-01-05 10:00:12")]}
    )  # fmt: skip
    commits = [datetime(2026, 1, 5, 10, 2, tzinfo=UTC), datetime(2026, 1, 5, 10, 1, 30, tzinfo=UTC)]
    latency = data.review_latency(reviews, copy_log, commits)
    assert latency.drop(columns="to_gold_s").to_dict("list") == {
        "review_id": ["R1", "R2", "R3"],
        "partition_id": ["0", "0", "1"],
        "to_bronze_s": [30.0, 29.6, 10.0],
        "to_silver_s": [59.5, 59.1, 178.0],
    }
    # The first commit at or after each silver load; R3 has none yet.
    assert latency["to_gold_s"].tolist()[:2] == [89.5, 89.1]
    assert pd.isna(latency["to_gold_s"].iloc[2])
    assert data.events_per_second(reviews).to_dict("records") == [
        {"second": at("2026-01-05 10:00:00"), "partition_id": "0", "events": 2},
        {"second": at("2026-01-05 10:00:02"), "partition_id": "1", "events": 1},
    ]


def test_the_stack_runs_the_dashboard_headless_without_usage_statistics(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    spec = dashboard_spec(settings)
    names = [s.name for s in stack_specs(settings)]
    assert names == [
        "azurite",
        "dfs",
        "eventhubs",
        "app-events-api",
        "alerts",
        "dashboard",
        "spark-driver",
        "prefect",
        "worker",
    ]
    command = list(spec.command)
    assert command[1:4] == ["-m", "streamlit", "run"]
    flags = dict(zip(command[5::2], command[6::2], strict=True))
    assert flags == {
        "--server.address": "127.0.0.1",
        "--server.port": str(settings.dashboard_port),
        "--server.headless": "true",
        "--browser.gatherUsageStats": "false",
        "--server.fileWatcherType": "none",
        "--global.developmentMode": "false",
        "--client.toolbarMode": "minimal",
    }
    assert (spec.url, spec.port_settings) == (settings.dashboard_url, {"http": "LAKEHOUSE_DASHBOARD_PORT"})
    assert spec.env["LAKEHOUSE_GOLD_CONTAINER"] == "gold"
    assert spec.health() is False  # nothing listens on its port


def test_delta_rs_options_per_profile(tmp_path: Path) -> None:
    local = make_settings(tmp_path)
    assert storage_options(local) == {
        "account_name": "devstoreaccount1",
        "account_key": local.storage_key.get_secret_value() if local.storage_key else "",
        "azure_storage_endpoint": f"http://127.0.0.1:{local.dfs_port}/devstoreaccount1",
        "allow_http": "true",
    }
    assert storage_options(Settings(storage_backend="file", local_lake_dir=tmp_path)) == {}


def test_latest_profiles_are_those_of_the_run_that_loaded_last() -> None:
    profiles = pd.DataFrame({"run_id": ["b", "a", "a", "c"], "column_name": ["x", "y", "z", "w"]})
    balance = pd.DataFrame(
        {"run_id": ["a", "b", "a"], "loaded_at": [at("2026-01-02"), at("2026-01-01"), at("2026-01-03")]}
    )
    assert data.latest_profiles(profiles, balance)["column_name"].tolist() == ["y", "z"]
    # Without loads (e.g. no load_balance yet): the run written last.
    assert data.latest_profiles(profiles, None)["column_name"].tolist() == ["w"]
