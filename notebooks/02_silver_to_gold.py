# Databricks notebook source
# MAGIC %md
# MAGIC # 02 · Silver -> Gold
# MAGIC Builds the star schema and the KPI marts from silver with the flow's pure transforms
# MAGIC (`transforms/gold.py`, `transforms/analytics.py`): SCD2 `dim_customer`, `dim_product`, `dim_date`, the facts and the marts, and
# MAGIC holds them against the gold tables the `medallion` flow wrote (Delta at reader 1 / writer 2, which
# MAGIC Power BI reads with `DeltaLake.Table`). It writes nothing.

# COMMAND ----------

from datetime import UTC, datetime

from infra import zones
from infra.settings import get_settings
from infra.spark import build_spark_session
from infra.storage import delta_io
from transforms import analytics, gold
from transforms.catalog import GOLD_TABLES, SCD2_HISTORY

settings = get_settings()
spark = build_spark_session(settings, app_name="notebook-gold")
as_of = settings.as_of or datetime.now(UTC)


def silver_df(table):
    return delta_io.read_delta(spark, zones.silver_url(settings, table))


def written(table):
    return delta_io.read_delta(spark, zones.gold_url(settings, table))

# COMMAND ----------

# Dimension keys are carried over from the written dimensions, as the flow does.
dim_customer = gold.dim_customer(silver_df(SCD2_HISTORY), written("dim_customer"))
dim_product = gold.dim_product(silver_df("products"), written("dim_product"))
first_day, last_day = gold.dim_date_span({t: silver_df(t) for t in gold.DATE_SPAN_COLUMNS}, as_of)
fact_sales = gold.fact_sales(silver_df("order_lines"), silver_df("orders"), dim_customer, dim_product)
fact_reviews = gold.fact_reviews(silver_df("reviews"), dim_customer, dim_product)
fact_events = gold.fact_app_events(silver_df("app_events"), dim_customer, dim_product)
built = {
    "dim_customer": dim_customer,
    "dim_product": dim_product,
    "dim_date": gold.dim_date(spark, first_day, last_day, include_unknown=False),
    "fact_sales": fact_sales,
    "fact_reviews": fact_reviews,
    "fact_app_events": fact_events,
    "mart_monthly_revenue": gold.mart_monthly_revenue(fact_sales),
    "mart_daily_region": gold.mart_daily_region(fact_sales),
    "mart_rfm": gold.mart_rfm(fact_sales, dim_customer, as_of.date()),
    "mart_product_rating": gold.mart_product_rating(fact_reviews, dim_product),
    "mart_funnel": gold.mart_funnel(fact_events),
}
# The analytics marts (transforms/analytics.py) are built from the core marts above.
built |= {
    "mart_customer_360": analytics.mart_customer_360(
        fact_sales, fact_reviews, dim_customer, built["mart_rfm"]
    ),
    "mart_revenue_anomalies": analytics.mart_revenue_anomalies(built["mart_daily_region"]),
    "mart_finance_monthly": analytics.mart_finance_monthly(
        silver_df("finance_entries"), built["mart_monthly_revenue"]
    ),
}
gold_rows = {table: built[table].count() for table in GOLD_TABLES}
for table in GOLD_TABLES:
    print(f"{table:22} {gold_rows[table]:>9,} rows built, {written(table).count():>9,} in "
          f"{zones.gold_url(settings, table)}")

# COMMAND ----------

# MAGIC %md The Delta protocol Power BI needs (reader 1, writer 2) on every gold table:

# COMMAND ----------

for table in GOLD_TABLES:
    detail = spark.sql(f"DESCRIBE DETAIL delta.`{zones.gold_url(settings, table)}`").first()
    print(f"{table:22} reader={detail.minReaderVersion} writer={detail.minWriterVersion} files={detail.numFiles}")
