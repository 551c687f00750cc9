# Databricks notebook source
# MAGIC %md
# MAGIC # 03 · Explore Gold
# MAGIC The KPIs as a person would rather look at them than read them: monthly revenue, RFM segments, the
# MAGIC conversion funnel and the rating distribution. Figures are saved next to the notebook run
# MAGIC (`LAKEHOUSE_NOTEBOOK_OUT`, default `.state/notebooks/`) and shown inline where a display exists.

# COMMAND ----------

# matplotlib picks its backend itself: inline on Databricks and Jupyter, Agg (files only) without a display.
import matplotlib.pyplot as plt

from infra import zones
from infra.settings import get_settings
from infra.spark import build_spark_session
from infra.storage import delta_io

settings = get_settings()
spark = build_spark_session(settings, app_name="notebook-explore")
out = settings.notebook_out or settings.state_dir / "notebooks"
out.mkdir(parents=True, exist_ok=True)


def gold(table: str):
    return delta_io.read_delta(spark, zones.gold_url(settings, table)).toPandas()


# COMMAND ----------

monthly = gold("mart_monthly_revenue").sort_values("month_start_date")
fig, ax = plt.subplots(figsize=(9, 4))
ax.bar(monthly["month_start_date"].astype(str), monthly["revenue"].astype(float), color="#2f6fbf")
ax.set_title("Monthly revenue (EUR, net orders)")
ax.tick_params(axis="x", rotation=45)
fig.tight_layout()
fig.savefig(out / "monthly_revenue.png")

# COMMAND ----------

rfm = gold("mart_rfm")["rfm_segment"].value_counts().sort_values()
fig, ax = plt.subplots(figsize=(7, 4))
ax.barh(rfm.index, rfm.values, color="#5a9e6f")
ax.set_title("Customers per RFM segment")
fig.tight_layout()
fig.savefig(out / "rfm_segments.png")

# COMMAND ----------

funnel = gold("mart_funnel")
steps = ["view_sessions", "cart_sessions", "checkout_sessions", "purchase_sessions"]
totals = [int(funnel[s].sum()) for s in steps]
fig, ax = plt.subplots(figsize=(7, 4))
ax.bar(["view", "cart", "checkout", "purchase"], totals, color="#c77c2e")
ax.set_title("Sessions reaching each funnel step")
fig.tight_layout()
fig.savefig(out / "funnel.png")

# COMMAND ----------

ratings = gold("fact_reviews")["rating"].value_counts().sort_index()
fig, ax = plt.subplots(figsize=(6, 4))
ax.bar(ratings.index.astype(str), ratings.values, color="#8e5ab5")
ax.set_title("Rating distribution")
fig.tight_layout()
fig.savefig(out / "ratings.png")
print(f"figures written to {out}")
