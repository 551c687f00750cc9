"""The dashboard's pages, one function each: headline figures (``st.metric``), Plotly charts, filters.

Every page reads through :mod:`infra.local.dashboard.data` (cached for ``REFRESH_SECONDS``) and raises
:class:`~infra.local.dashboard.data.NoGold` when a table it needs is not written yet; the app turns that
into the "run `lakehouse run`" message.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from infra import zones
from infra.local.dashboard import data
from infra.settings import Settings

REFRESH_SECONDS = 30


@st.cache_resource
def lake() -> data.Lakehouse:
    """The lake of this process's settings (the launcher passes them as ``LAKEHOUSE_*`` variables)."""
    return data.Lakehouse(Settings())


@st.cache_data(ttl=REFRESH_SECONDS, show_spinner=False)
def gold(name: str, columns: tuple[str, ...] | None = None) -> pd.DataFrame:
    return lake().gold(name, columns)


@st.cache_data(ttl=REFRESH_SECONDS, show_spinner=False)
def optional_gold(name: str) -> pd.DataFrame | None:
    try:
        return lake().gold(name)
    except data.NoGold:
        return None


def _date_filter(label: str, values: pd.Series, key: str) -> tuple[date, date]:
    """A sidebar date range over ``values`` (dates or timestamps); the whole range by default."""
    days = pd.to_datetime(values, utc=True).dt.date.dropna()
    low, high = (days.min(), days.max()) if len(days) else (date.today(), date.today())
    picked = st.sidebar.date_input(label, (low, high), min_value=low, max_value=high, key=key)
    if isinstance(picked, tuple) and len(picked) == 2:
        return picked[0], picked[1]
    if isinstance(picked, tuple) and len(picked) == 1:  # the second click of a range is pending
        return picked[0], high
    return low, high


def _multi_filter(label: str, values: pd.Series, key: str) -> list[Any]:
    options = sorted(v for v in values.dropna().unique())
    return st.sidebar.multiselect(label, options, default=options, key=key)


def _chart(figure: go.Figure) -> None:
    st.plotly_chart(figure, width="stretch")


def _metrics(figures: dict[str, str]) -> None:
    for column, (label, value) in zip(st.columns(len(figures)), figures.items(), strict=True):
        column.metric(label, value)


# --- pages -------------------------------------------------------------------------------------------
def revenue_page() -> None:
    """Revenue and orders per month with the return and cancellation rates (``mart_monthly_revenue``)."""
    st.title("Revenue and orders")
    monthly = gold("mart_monthly_revenue").sort_values("month_start_date")
    start, end = _date_filter("Months", monthly["month_start_date"], "revenue-dates")
    months = data.in_dates(monthly, "month_start_date", start.replace(day=1), end)
    summary = data.revenue_summary(months)
    customers = data.current_customers(gold("dim_customer", ("customer_key", "is_current")))
    _metrics(
        {
            "Revenue": data.format_eur(summary.revenue),
            "Orders": f"{summary.orders:,}",
            "Net orders": f"{summary.net_orders:,}",
            "Average order value": data.format_eur(summary.average_order_value),
            "Cancellation rate": data.format_rate(summary.cancellation_rate),
            "Return rate": data.format_rate(summary.return_rate),
            "Customers": f"{len(customers):,}",
        }
    )
    chart = data.to_float(months, "revenue", "cancellation_rate", "return_rate")
    chart["month"] = pd.to_datetime(chart["month_start_date"]).dt.strftime("%Y-%m")
    figure = go.Figure()
    figure.add_bar(x=chart["month"], y=chart["revenue"], name="revenue (EUR)")
    figure.add_scatter(x=chart["month"], y=chart["order_count"], name="orders", yaxis="y2")
    figure.update_layout(
        title="Revenue and orders per month",
        xaxis={"type": "category"},
        yaxis={"title": "EUR"},
        yaxis2={
            "title": "orders",
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "tickformat": "d",
        },
    )
    _chart(figure)
    rates = chart.melt("month", ["cancellation_rate", "return_rate"], "rate", "share")
    rates_figure = px.line(rates, x="month", y="share", color="rate", markers=True, title="Rates per month")
    _chart(rates_figure.update_layout(xaxis={"type": "category"}, yaxis={"tickformat": ".0%"}))


def regions_page() -> None:
    """Orders, units and revenue per day and region (``mart_daily_region``)."""
    st.title("Regions by day")
    daily = gold("mart_daily_region").sort_values(["order_date", "region"])
    start, end = _date_filter("Days", daily["order_date"], "regions-dates")
    regions = _multi_filter("Regions", daily["region"], "regions-regions")
    shown = data.in_dates(daily, "order_date", start, end)
    shown = shown[shown["region"].isin(regions)]
    _metrics(
        {
            "Revenue": data.format_eur(sum(shown["revenue"].dropna(), Decimal(0))),
            "Orders": f"{int(shown['order_count'].sum()):,}",
            "Units sold": f"{int(shown['units_sold'].sum()):,}",
        }
    )
    chart = data.to_float(shown, "revenue", "average_order_value")
    _chart(px.line(chart, x="order_date", y="revenue", color="region", markers=True, title="Revenue per day"))
    totals = chart.groupby("region", as_index=False)[["revenue", "order_count"]].sum()
    _chart(px.bar(totals, x="region", y="revenue", title="Revenue per region", text_auto=".2s"))
    st.dataframe(shown, hide_index=True, width="stretch")


def rfm_page() -> None:
    """Customers per RFM segment, their spend and recency (``mart_rfm``)."""
    st.title("RFM segments")
    rfm = gold("mart_rfm")
    customers = data.current_customers(
        gold("dim_customer", ("customer_key", "customer_id", "region", "is_current"))
    )
    rfm = rfm.merge(customers[["customer_id", "region"]], on="customer_id", how="left")
    regions = _multi_filter("Regions", rfm["region"], "rfm-regions")
    shown = rfm[rfm["region"].isin(regions) | rfm["region"].isna()] if regions else rfm.iloc[0:0]
    _metrics({"Customers scored": f"{len(shown):,}", "Segments": f"{shown['rfm_segment'].nunique():,}"})
    chart = data.to_float(shown, "monetary")
    per_segment = (
        chart.groupby("rfm_segment", as_index=False)
        .agg(customers=("customer_id", "size"), monetary=("monetary", "sum"))
        .sort_values("customers", ascending=False)
    )
    _chart(px.bar(per_segment, x="rfm_segment", y="customers", title="Customers per segment"))
    _chart(px.bar(per_segment, x="rfm_segment", y="monetary", title="Net revenue per segment (EUR)"))
    _chart(
        px.scatter(
            chart,
            x="recency_days",
            y="frequency",
            size="monetary",
            color="rfm_segment",
            hover_data=["customer_id", "rfm_score"],
            title="Recency and frequency (size: net revenue)",
        )
    )


def ratings_page() -> None:
    """Review count and average rating per product (``mart_product_rating``, ``fact_reviews``)."""
    st.title("Product ratings")
    products = gold("mart_product_rating")
    categories = _multi_filter("Categories", products["category"], "ratings-categories")
    shown = products[products["category"].isin(categories)]
    reviews = gold("fact_reviews", ("product_key", "rating"))
    reviews = reviews[reviews["product_key"].isin(shown["product_key"])]
    ratings = reviews["rating"].dropna()
    _metrics(
        {
            "Products reviewed": f"{int((shown['review_count'] > 0).sum()):,}",
            "Reviews": f"{int(shown['review_count'].sum()):,}",
            "Average rating": f"{ratings.mean():.2f}" if len(ratings) else "-",
        }
    )
    chart = data.to_float(shown, "average_rating")
    top = chart[chart["review_count"] > 0].sort_values(["average_rating", "review_count"], ascending=False)
    _chart(
        px.bar(
            top.head(15), x="product_name", y="average_rating", color="category", title="Top rated products"
        )
    )
    stars = ratings.value_counts().sort_index().rename_axis("rating").reset_index(name="reviews")
    _chart(px.bar(stars, x="rating", y="reviews", title="Reviews per rating"))
    st.dataframe(shown, hide_index=True, width="stretch")


FUNNEL_STEPS = ("view_sessions", "cart_sessions", "checkout_sessions", "purchase_sessions")


def funnel_page() -> None:
    """Sessions through view -> cart -> checkout -> purchase per day and device (``mart_funnel``)."""
    st.title("App funnel")
    funnel = gold("mart_funnel").sort_values(["event_date", "device"])
    start, end = _date_filter("Days", funnel["event_date"], "funnel-dates")
    devices = _multi_filter("Devices", funnel["device"], "funnel-devices")
    shown = data.in_dates(funnel, "event_date", start, end)
    shown = shown[shown["device"].isin(devices)]
    steps = {step: int(shown[step].sum()) for step in FUNNEL_STEPS}
    views = steps["view_sessions"]
    _metrics(
        {
            "Sessions": f"{int(shown['session_count'].sum()):,}",
            "Purchases": f"{steps['purchase_sessions']:,}",
            "View to purchase": data.format_rate(steps["purchase_sessions"] / views if views else None),
        }
    )
    names = [step.removesuffix("_sessions") for step in FUNNEL_STEPS]
    _chart(go.Figure(go.Funnel(y=names, x=list(steps.values()))).update_layout(title="Sessions per step"))
    chart = data.to_float(shown, "view_to_purchase_rate")
    _chart(
        px.line(
            chart,
            x="event_date",
            y="view_to_purchase_rate",
            color="device",
            markers=True,
            title="View to purchase",
        )
    )


def lifetime_value_page() -> None:
    """Net revenue per customer over all their orders (``mart_customer_360`` once it exists)."""
    st.title("Customer lifetime value")
    mart = optional_gold(data.CUSTOMER_360)
    sales = gold(
        "fact_sales", ("order_id", "customer_key", "ordered_at", "net_amount", "is_cancelled", "is_returned")
    )
    customers = gold("dim_customer", ("customer_key", "customer_id", "segment", "region", "is_current"))
    values, source = data.lifetime_values(mart, sales, customers)
    regions = _multi_filter("Regions", values["region"], "clv-regions")
    shown = values[values["region"].isin(regions)]
    total = sum(shown["lifetime_value"], Decimal(0))
    _metrics(
        {
            "Customers with a purchase": f"{len(shown):,}",
            "Total lifetime value": data.format_eur(total),
            "Average lifetime value": data.format_eur(total / len(shown) if len(shown) else None),
        }
    )
    st.caption(f"Lifetime value = net revenue (not cancelled, not returned) per customer, from {source}.")
    chart = data.to_float(shown, "lifetime_value")
    _chart(px.histogram(chart, x="lifetime_value", nbins=30, title="Customers by lifetime value (EUR)"))
    _chart(px.box(chart, x="segment", y="lifetime_value", title="Lifetime value per segment"))
    st.dataframe(shown.head(50), hide_index=True, width="stretch")


def quality_page() -> None:
    """Quarantined rows per table and expectation, checks per run, freshness of each zone's tables."""
    st.title("Data quality")
    if not lake().has_gold():
        raise data.NoGold("*")
    quarantine = data.quarantine_tables(lake())
    per_expectation = data.quarantine_by_expectation(quarantine)
    dq = lake().frame(zones.ops_url(lake().settings, "dq_results"))
    balance = lake().frame(zones.ops_url(lake().settings, "load_balance"), ["run_id", "loaded_at"])
    runs = data.dq_runs(dq, balance) if dq is not None else pd.DataFrame(columns=["run_id", "checks"])
    latest = runs.iloc[-1] if len(runs) else None
    _metrics(
        {
            "Quarantined rows": f"{int(per_expectation['rows'].sum()):,}",
            "Checks in the latest run": f"{int(latest['checks']):,}" if latest is not None else "-",
            "Failed errors (latest run)": f"{int(latest['failed_errors']):,}" if latest is not None else "-",
        }
    )
    if len(per_expectation):
        _chart(
            px.bar(
                per_expectation,
                x="rows",
                y="expectation",
                color="table_name",
                orientation="h",
                title="Quarantined rows per table and expectation",
            )
        )
    st.subheader("Checks per run")
    st.dataframe(runs, hide_index=True, width="stretch")
    st.subheader("Freshness: latest commit of each Delta table")
    fresh = data.freshness(lake())
    st.dataframe(data.freshness_by_zone(fresh), hide_index=True, width="stretch")
    st.dataframe(fresh, hide_index=True, width="stretch")


def _seconds(value: float) -> str:
    return "-" if pd.isna(value) else f"{value:,.1f} s"


def stream_page() -> None:
    """Reviews per second per Event Hubs partition, and their latency from the hub to bronze, silver, gold."""
    st.title("The stream")
    reviews = data.silver_reviews(lake())
    if reviews is None:
        raise data.NoGold("fact_reviews")
    start, end = _date_filter("Enqueued", reviews["enqueued_at"], "stream-dates")
    shown = data.in_dates(reviews, "enqueued_at", start, end)
    latency = data.review_latency(shown, lake().copy_log(), data.gold_commit_times(lake(), "fact_reviews"))
    _metrics(
        {
            "Reviews in silver": f"{len(shown):,}",
            "Partitions": f"{shown['partition_id'].nunique():,}",
            "Median hub to bronze": _seconds(latency["to_bronze_s"].median()),
            "Median hub to silver": _seconds(latency["to_silver_s"].median()),
            "Median hub to gold": _seconds(latency["to_gold_s"].median()),
        }
    )
    per_second = data.events_per_second(shown)
    per_second_figure = px.bar(
        per_second,
        x="second",
        y="events",
        color="partition_id",
        barmode="group",
        title="Events per second per partition (enqueued time)",
    )
    _chart(per_second_figure)
    hops = latency.melt("review_id", ["to_bronze_s", "to_silver_s", "to_gold_s"], "hop", "seconds")
    _chart(px.box(hops, x="hop", y="seconds", title="Latency from the hub (enqueued) to each layer"))
    st.caption(
        "Send time is Event Hubs' enqueued time: the producer's own send time is not kept. Bronze is the "
        "copy time of the Capture file, silver the medallion's read of it, gold the first fact_reviews "
        "commit after that (gold rows carry no load time)."
    )


def anomalies_page() -> None:
    """Daily revenue against its expected band; the days flagged as anomalies (``mart_revenue_anomalies``)."""
    st.title("Revenue anomalies")
    days = gold("mart_revenue_anomalies").sort_values("order_date")
    start, end = _date_filter("Days", days["order_date"], "anomalies-dates")
    shown = data.in_dates(days, "order_date", start, end)
    flagged = shown[shown["is_anomaly"].fillna(False).astype(bool)]
    _metrics(
        {
            "Days": f"{len(shown):,}",
            "Anomalous days": f"{len(flagged):,}",
            "Latest anomaly": str(flagged["order_date"].max()) if len(flagged) else "-",
        }
    )
    chart = data.to_float(shown, "revenue", "expected_revenue", "lower_bound", "upper_bound")
    figure = go.Figure()
    figure.add_scatter(x=chart["order_date"], y=chart["upper_bound"], name="upper bound", line={"width": 0})
    figure.add_scatter(
        x=chart["order_date"], y=chart["lower_bound"], name="expected band", fill="tonexty", line={"width": 0}
    )
    figure.add_scatter(x=chart["order_date"], y=chart["expected_revenue"], name="expected (trailing median)")
    figure.add_scatter(x=chart["order_date"], y=chart["revenue"], name="revenue", mode="lines+markers")
    marked = chart[chart["is_anomaly"].fillna(False).astype(bool)]
    figure.add_scatter(
        x=marked["order_date"], y=marked["revenue"], name="anomaly", mode="markers", marker={"size": 12}
    )
    _chart(figure.update_layout(title="Revenue per day and its expected band (EUR)"))
    st.dataframe(flagged, hide_index=True, width="stretch")


def finance_page() -> None:
    """Booked revenue, expenses and margin per month, beside sales revenue (``mart_finance_monthly``)."""
    st.title("Finance")
    months = gold("mart_finance_monthly").sort_values("month_start_date")
    start, end = _date_filter("Months", months["month_start_date"], "finance-dates")
    shown = data.in_dates(months, "month_start_date", start.replace(day=1), end)
    revenue = sum(shown["revenue"].dropna(), Decimal(0))
    expenses = sum(shown["expenses"].dropna(), Decimal(0))
    margin = revenue - expenses
    _metrics(
        {
            "Booked revenue": data.format_eur(revenue),
            "Expenses": data.format_eur(expenses),
            "Margin": data.format_eur(margin),
            "Margin rate": data.format_rate(float(margin / revenue) if revenue else None),
        }
    )
    chart = data.to_float(shown, "revenue", "expenses", "margin", "sales_revenue")
    chart["month"] = pd.to_datetime(chart["month_start_date"]).dt.strftime("%Y-%m")
    figure = go.Figure()
    figure.add_bar(x=chart["month"], y=chart["revenue"], name="booked revenue")
    figure.add_bar(x=chart["month"], y=chart["expenses"], name="expenses")
    figure.add_scatter(x=chart["month"], y=chart["margin"], name="margin", mode="lines+markers")
    figure.add_scatter(x=chart["month"], y=chart["sales_revenue"], name="sales revenue", mode="lines")
    _chart(figure.update_layout(title="Per month (EUR)", xaxis={"type": "category"}, barmode="group"))
    st.dataframe(shown, hide_index=True, width="stretch")


def profiles_page() -> None:
    """The latest run's profile of each silver and gold table: rows, nulls, distinct values, min/max, top."""
    st.title("Table profiles")
    settings = lake().settings
    profiles = lake().frame(zones.ops_url(settings, "profiles"))
    if profiles is None:
        raise data.NoGold("_ops/profiles")
    balance = lake().frame(zones.ops_url(settings, "load_balance"), ["run_id", "loaded_at"])
    latest = data.latest_profiles(profiles, balance)
    tables = sorted(set(zip(latest["zone"], latest["table_name"], strict=True)))
    picked = st.sidebar.selectbox(
        "Table", tables, format_func=lambda table: "/".join(table), key="profiles-table"
    )
    columns = latest[(latest["zone"] == picked[0]) & (latest["table_name"] == picked[1])]
    rows = int(columns["row_count"].max()) if len(columns) else 0
    _metrics(
        {
            "Tables profiled": f"{len(tables):,}",
            "Columns profiled": f"{len(latest):,}",
            "Rows (this table)": f"{rows:,}",
        }
    )
    nulls = columns.assign(null_share=columns["null_count"] / rows if rows else 0.0)
    _chart(
        px.bar(nulls, x="column_name", y="null_share", title="Null share per column").update_layout(
            yaxis={"tickformat": ".0%"}
        )
    )
    st.dataframe(columns, hide_index=True, width="stretch")


PAGES: tuple[tuple[Callable[[], None], str, str], ...] = (
    (revenue_page, "Revenue and orders", "revenue"),
    (regions_page, "Regions by day", "regions"),
    (rfm_page, "RFM segments", "rfm"),
    (ratings_page, "Product ratings", "ratings"),
    (funnel_page, "App funnel", "funnel"),
    (lifetime_value_page, "Customer lifetime value", "lifetime-value"),
    (anomalies_page, "Revenue anomalies", "anomalies"),
    (finance_page, "Finance", "finance"),
    (quality_page, "Data quality", "quality"),
    (profiles_page, "Table profiles", "profiles"),
    (stream_page, "The stream", "stream"),
)
