"""The dashboard in a real headless Chromium (Debian's, driven by Playwright) over a tiny, known gold.

The gold, silver and bronze tables below are written through the lake (Azurite + the DFS endpoint) with
delta-rs, in the catalog's schemas; the ``dashboard`` service is started on a free port by the launcher, as
``lakehouse up`` does. Every page must render without a Streamlit exception, show the headline figures of
those rows exactly, and leave a screenshot in the test's tmp folder. A lake without gold shows the "run
`lakehouse run`" message on every page.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import StructType

from infra import zones
from infra.local.dashboard.data import NO_GOLD
from infra.local.dashboard.pages import PAGES
from infra.local.launcher import Launcher, free_port, running
from infra.local.services import dashboard_spec
from infra.settings import Settings
from infra.storage.delta_rs import storage_options
from infra.storage.lake import Lake
from tests.conftest import with_fresh_zones
from transforms.gold_schemas import GOLD_SCHEMAS
from transforms.silver_schemas import (
    DQ_RESULTS_SCHEMA,
    LOAD_BALANCE_SCHEMA,
    PROFILES_SCHEMA,
    QUARANTINE_SCHEMA,
    SILVER_REVIEWS_SCHEMA,
)

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))  # Debian's, from `make setup-browser`
pytestmark = pytest.mark.services


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def eur(text: str) -> Decimal:
    return Decimal(text)


def customer(key: int, customer_id: str, region: str, segment: str, is_current: bool) -> dict[str, Any]:
    return {
        "customer_key": key,
        "customer_id": customer_id,
        "region": region,
        "segment": segment,
        "is_current": is_current,
    }


def line(order_id: str, n: int, key: int, day: str, net: str, region: str, **flags: bool) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "line_number": n,
        "customer_key": key,
        "ordered_at": at(f"{day}T10:00:00"),
        "region": region,
        "quantity": 1,
        "net_amount": eur(net),
        "is_cancelled": flags.get("cancelled", False),
        "is_returned": flags.get("returned", False),
    }


BRONZE_FILE = "reviews/ns/product-reviews/{p}/2026/01/05/10/00/00.avro"

# C1 has two versions (keys 1, 2); C3's only order was returned. Revenue = 100 + 50.50 + 75.25.
GOLD_ROWS: dict[str, list[dict[str, Any]]] = {
    "dim_customer": [
        customer(-1, "unknown", "unknown", "unknown", True),
        customer(1, "C1", "AMER", "consumer", False),
        customer(2, "C1", "EMEA", "consumer", True),
        customer(3, "C2", "APAC", "enterprise", True),
        customer(4, "C3", "AMER", "small_business", True),
    ],
    "fact_sales": [
        line("O1", 1, 1, "2026-01-05", "100.00", "EMEA"),
        line("O1", 2, 1, "2026-01-05", "50.50", "EMEA"),
        line("O2", 1, 2, "2026-01-20", "200.00", "EMEA", cancelled=True),
        line("O3", 1, 3, "2026-02-03", "75.25", "APAC"),
        line("O4", 1, 4, "2026-02-10", "30.00", "AMER", returned=True),
    ],
    "mart_monthly_revenue": [
        {
            "month_start_date": date(2026, 1, 1),
            "order_count": 2,
            "net_order_count": 1,
            "cancelled_order_count": 1,
            "returned_order_count": 0,
            "revenue": eur("150.50"),
            "cancellation_rate": eur("0.5"),
            "return_rate": eur("0"),
        },
        {
            "month_start_date": date(2026, 2, 1),
            "order_count": 2,
            "net_order_count": 1,
            "cancelled_order_count": 0,
            "returned_order_count": 1,
            "revenue": eur("75.25"),
            "cancellation_rate": eur("0"),
            "return_rate": eur("0.5"),
        },
    ],
    "mart_daily_region": [
        {
            "order_date": date(2026, 1, 5),
            "region": "EMEA",
            "order_count": 1,
            "units_sold": 2,
            "revenue": eur("150.50"),
        },
        {
            "order_date": date(2026, 1, 20),
            "region": "EMEA",
            "order_count": 1,
            "units_sold": 1,
            "revenue": eur("0"),
        },
        {
            "order_date": date(2026, 2, 3),
            "region": "APAC",
            "order_count": 1,
            "units_sold": 1,
            "revenue": eur("75.25"),
        },
        {
            "order_date": date(2026, 2, 10),
            "region": "AMER",
            "order_count": 1,
            "units_sold": 1,
            "revenue": eur("0"),
        },
    ],
    "mart_rfm": [
        {
            "customer_key": 2,
            "customer_id": "C1",
            "recency_days": 40,
            "frequency": 1,
            "monetary": eur("150.50"),
            "rfm_score": "333",
            "rfm_segment": "Champions",
        },
        {
            "customer_key": 3,
            "customer_id": "C2",
            "recency_days": 20,
            "frequency": 1,
            "monetary": eur("75.25"),
            "rfm_score": "312",
            "rfm_segment": "Promising",
        },
    ],
    "mart_product_rating": [
        {
            "product_key": 1,
            "product_name": "Lamp",
            "category": "home",
            "review_count": 2,
            "average_rating": eur("4.5"),
        },
        {
            "product_key": 2,
            "product_name": "Mug",
            "category": "kitchen",
            "review_count": 1,
            "average_rating": eur("3"),
        },
        {
            "product_key": 3,
            "product_name": "Desk",
            "category": "home",
            "review_count": 0,
            "average_rating": None,
        },
    ],
    "fact_reviews": [
        {"review_id": "R1", "product_key": 1, "rating": 5},
        {"review_id": "R2", "product_key": 1, "rating": 4},
        {"review_id": "R3", "product_key": 2, "rating": 3},
    ],
    "mart_funnel": [
        {
            "event_date": date(2026, 1, 5),
            "device": "desktop",
            "session_count": 10,
            "view_sessions": 8,
            "cart_sessions": 4,
            "checkout_sessions": 2,
            "purchase_sessions": 1,
            "view_to_purchase_rate": eur("0.125"),
        },
        {
            "event_date": date(2026, 1, 5),
            "device": "mobile",
            "session_count": 5,
            "view_sessions": 4,
            "cart_sessions": 2,
            "checkout_sessions": 1,
            "purchase_sessions": 1,
            "view_to_purchase_rate": eur("0.25"),
        },
    ],
    # Two days out of their band (a spike and a drop), one inside it.
    "mart_revenue_anomalies": [
        {
            "order_date": date(2026, 1, d),
            "revenue": eur(revenue),
            "expected_revenue": eur("100"),
            "lower_bound": eur("80"),
            "upper_bound": eur("120"),
            "is_anomaly": anomaly,
        }
        for d, revenue, anomaly in [(5, "150.50", True), (6, "90", False), (7, "10", True)]
    ],
    "mart_finance_monthly": [
        {
            "month_start_date": date(2026, m, 1),
            "revenue": eur(revenue),
            "expenses": eur(expenses),
            "margin": eur(revenue) - eur(expenses),
            "sales_revenue": eur(sales),
        }
        for m, revenue, expenses, sales in [(1, "1000", "400", "150.50"), (2, "500", "600", "75.25")]
    ],
}
# run-b loaded last, so its profile is the one shown; gold/fact_sales sorts before silver/orders.
PROFILE_ROWS = [
    dict(zip(("run_id", "zone", "table_name", "column_name", "row_count", "null_count"), row, strict=True))
    for row in [
        ("run-a", "gold", "fact_sales", "order_id", 4, 0),
        ("run-b", "gold", "fact_sales", "order_id", 5, 0),
        ("run-b", "gold", "fact_sales", "customer_key", 5, 1),
        ("run-b", "silver", "orders", "order_id", 4, 0),
    ]
]
QUARANTINE_ROWS = {
    "orders": [
        {
            "table_name": "orders",
            "record_key": "O9",
            "expectation": "order_date_not_in_future",
            "reason": "x",
        },
        {"table_name": "orders", "record_key": None, "expectation": "key_not_null", "reason": "x"},
    ],
    "reviews": [
        {"table_name": "reviews", "record_key": "R9", "expectation": "rating_in_range", "reason": "7"}
    ],
}
DQ_ROWS = [  # run-a (older) failed one error check; run-b, the latest, passed its four
    {
        "run_id": "run-b",
        "table_name": t,
        "expectation": e,
        "severity": "error",
        "passed_count": 3,
        "failed_count": 0,
    }
    for t, e in [("orders", "unique"), ("reviews", "unique"), ("fact_sales", "key_known"), ("x", "y")]
] + [
    {
        "run_id": "run-a",
        "table_name": "orders",
        "expectation": "unique",
        "severity": "error",
        "failed_count": 1,
    },
]
LOAD_BALANCE_ROWS = [
    {"run_id": "run-a", "table_name": "orders", "loaded_at": at("2026-01-05T11:00:00")},
    {"run_id": "run-b", "table_name": "orders", "loaded_at": at("2026-01-06T11:00:00")},
]
SILVER_REVIEWS = [  # two reviews in one second on partition 0, one on partition 1
    {"review_id": f"R{i}", "partition_id": p, "enqueued_at": at(t), "_ingested_at": at("2026-01-05T10:05:00")}
    for i, p, t in [
        (1, "0", "2026-01-05T10:00:00.100"),
        (2, "0", "2026-01-05T10:00:00.700"),
        (3, "1", "2026-01-05T10:00:01.200"),
    ]
]

# What each page must show, from the rows above.
EXPECTED: dict[str, dict[str, str]] = {
    "revenue": {
        "Revenue": "€225.75",
        "Orders": "4",
        "Net orders": "2",
        "Average order value": "€112.88",
        "Cancellation rate": "25.0%",
        "Return rate": "25.0%",
        "Customers": "3",
    },
    "regions": {"Revenue": "€225.75", "Orders": "4", "Units sold": "5"},
    "rfm": {"Customers scored": "2", "Segments": "2"},
    "ratings": {"Products reviewed": "2", "Reviews": "3", "Average rating": "4.00"},
    "funnel": {"Sessions": "15", "Purchases": "2", "View to purchase": "16.7%"},
    "lifetime-value": {
        "Customers with a purchase": "2",
        "Total lifetime value": "€225.75",
        "Average lifetime value": "€112.88",
    },
    "anomalies": {"Days": "3", "Anomalous days": "2", "Latest anomaly": "2026-01-07"},
    "finance": {
        "Booked revenue": "€1,500.00",
        "Expenses": "€1,000.00",
        "Margin": "€500.00",
        "Margin rate": "33.3%",
    },
    "quality": {"Quarantined rows": "3", "Checks in the latest run": "4", "Failed errors (latest run)": "0"},
    "profiles": {"Tables profiled": "2", "Columns profiled": "3", "Rows (this table)": "5"},
    # Bronze: copied at 10:01:00; silver: loaded at 10:05:00; the medians are R2's (enqueued 10:00:00.7).
    "stream": {
        "Reviews in silver": "3",
        "Partitions": "2",
        "Median hub to bronze": "59.3 s",
        "Median hub to silver": "299.3 s",
    },
}

# Plotly charts each page draws (every one must render).
CHARTS = {
    "revenue": 2,
    "regions": 2,
    "rfm": 3,
    "ratings": 2,
    "funnel": 2,
    "lifetime-value": 2,
    "anomalies": 1,
    "finance": 1,
    "quality": 1,
    "profiles": 1,
    "stream": 2,
}


def write_table(settings: Settings, url: str, schema: StructType, rows: list[dict[str, Any]]) -> None:
    """Rows (missing columns null) as a Delta table at ``url``, in the Spark schema's Arrow form."""
    from deltalake import write_deltalake

    arrow_schema = to_arrow_schema(schema, timezone="UTC")
    full = [{name: row.get(name) for name in arrow_schema.names} for row in rows]
    write_deltalake(
        url, pa.Table.from_pylist(full, schema=arrow_schema), storage_options=storage_options(settings)
    )


def write_known_lake(settings: Settings) -> None:
    for name, rows in GOLD_ROWS.items():
        write_table(settings, zones.gold_url(settings, name), GOLD_SCHEMAS[name], rows)
    for entity, rows in QUARANTINE_ROWS.items():
        write_table(settings, zones.quarantine_url(settings, entity), QUARANTINE_SCHEMA, rows)
    write_table(settings, zones.ops_url(settings, "dq_results"), DQ_RESULTS_SCHEMA, DQ_ROWS)
    write_table(settings, zones.ops_url(settings, "profiles"), PROFILES_SCHEMA, PROFILE_ROWS)
    write_table(settings, zones.ops_url(settings, "load_balance"), LOAD_BALANCE_SCHEMA, LOAD_BALANCE_ROWS)
    reviews = [
        r | {"_source_file": settings.lake_url("bronze", BRONZE_FILE.format(p=r["partition_id"]))}
        for r in SILVER_REVIEWS
    ]
    write_table(settings, zones.silver_url(settings, "reviews"), SILVER_REVIEWS_SCHEMA, reviews)
    with Lake(settings) as lake:
        for partition in ("0", "1"):
            destination = BRONZE_FILE.format(p=partition)
            entry = {
                "destination": destination,
                "copied_at": "2026-01-05T10:01:00+00:00",
                "partition": partition,
            }
            lake.write_bytes(
                "bronze", f"{zones.REVIEWS_COPY_LOG}/{destination}.json", json.dumps(entry).encode()
            )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"no browser at {CHROMIUM}: run `make setup-browser` (apt-get install chromium, as root)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


def dashboard(settings: Settings, state: Path) -> Any:
    """The launcher's ``dashboard`` service on a free port (a context manager)."""
    settings = settings.model_copy(update={"dashboard_port": free_port(), "state_dir": state})
    return running(Launcher(state), [dashboard_spec(settings)]), settings.dashboard_url


# Plotly's component loads lazily (a skeleton first): wait for the expected number of charts, each drawn.
PLOTS_DRAWN = """(expected) => {
    const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
    return charts.length === expected && charts.every(chart => chart.querySelector('svg.main-svg'));
}"""


def load(page: Any, url: str, charts: int) -> None:
    """Open ``url`` and wait until the script finished (the footer shows) and its ``charts`` are drawn."""
    page.goto(url)
    page.get_by_text("Read from").wait_for(timeout=60_000)
    settle(page, charts)


def settle(page: Any, charts: int) -> None:
    """Wait until the script run is over and ``charts`` are drawn; no exception, error or dialog shown."""
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=30_000)
    page.wait_for_function(PLOTS_DRAWN, arg=charts, timeout=30_000)
    exceptions = page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, f"{page.url}: {exceptions.first.inner_text()}"
    assert page.get_by_role("dialog").count() == 0, f"{page.url}: {page.get_by_role('dialog').inner_text()}"
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert errors.count() == 0, f"{page.url}: {errors.first.inner_text()}"


def metrics(page: Any) -> dict[str, str]:
    """The page's headline figures, label -> value as shown."""
    found = page.locator('[data-testid="stMetric"]')
    return {
        found.nth(i).get_by_test_id("stMetricLabel").inner_text().strip(): found.nth(i)
        .get_by_test_id("stMetricValue")
        .inner_text()
        .strip()
        for i in range(found.count())
    }


def open_page(browser: Any, url: str, shot: Path, charts: int) -> dict[str, str]:
    """Load ``url``, take a screenshot, return its metrics and (under ``_text``) the page's text."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        load(page, url, charts)
        page.screenshot(path=str(shot), full_page=True)
        return metrics(page) | {"_text": page.get_by_test_id("stMain").inner_text()}
    finally:
        page.close()


def page_url(base: str, path: str) -> str:
    """The first page is the app's default, served at "/"."""
    return base + "/" if path == PAGES[0][2] else f"{base}/{path}"


def gold_latency(settings: Settings, path: str) -> dict[str, str]:
    """The stream page's hub -> gold median: fact_reviews' one commit (now) minus R2's enqueued time."""
    if path != "stream":
        return {}
    from deltalake import DeltaTable

    table = DeltaTable(zones.gold_url(settings, "fact_reviews"), storage_options=storage_options(settings))
    committed = datetime.fromtimestamp(table.history(1)[0]["timestamp"] / 1000, tz=UTC)
    return {"Median hub to gold": f"{(committed - SILVER_REVIEWS[1]['enqueued_at']).total_seconds():,.1f} s"}


def test_every_page_shows_the_gold_figures(lake_stack: Settings, browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    settings = with_fresh_zones(lake_stack)
    write_known_lake(settings)
    service, url = dashboard(settings, tmp_path / "state")
    with service:
        for _, title, path in PAGES:
            shown = open_page(browser, page_url(url, path), tmp_path / f"{path}.png", CHARTS[path])
            text = shown.pop("_text")
            assert title in text
            assert shown == EXPECTED[path] | gold_latency(settings, path), path
            assert (tmp_path / f"{path}.png").stat().st_size > 10_000
        # A filter: without EMEA, the regions page keeps APAC's and AMER's days only.
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            load(page, f"{url}/regions", CHARTS["regions"])
            page.get_by_label("Remove EMEA").click()
            expect(page.get_by_test_id("stMetricValue").first).to_have_text("€75.25", timeout=30_000)
            settle(page, CHARTS["regions"])
            assert metrics(page) == {"Revenue": "€75.25", "Orders": "2", "Units sold": "2"}
        finally:
            page.close()


def test_no_gold_yet_says_run_the_pipeline(lake_stack: Settings, browser: Any, tmp_path: Path) -> None:
    settings = with_fresh_zones(lake_stack)  # empty zones: no pipeline run yet
    service, url = dashboard(settings, tmp_path / "state")
    with service:
        for _, _, path in PAGES:
            shown = open_page(browser, page_url(url, path), tmp_path / f"{path}.png", charts=0)
            assert NO_GOLD.replace("`", "") in shown.pop("_text"), path  # markdown: `x` is code
            assert shown == {}, path
