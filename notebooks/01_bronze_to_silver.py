# Databricks notebook source
# MAGIC %md
# MAGIC # 01 · Bronze -> Silver
# MAGIC Types, cleanses, validates and deduplicates each bronze entity the way the `medallion` flow does,
# MAGIC with the same pure transforms (`transforms/silver.py`), and shows what would be quarantined and why.
# MAGIC It reads every bronze file and writes nothing: the flow owns the writes (MERGE, quarantine, logs).
# MAGIC Settings come from `LAKEHOUSE_*` variables (local emulators by default; `LAKEHOUSE_PROFILE=azure`).

# COMMAND ----------

import uuid
from datetime import UTC, datetime

from infra import zones
from infra.settings import get_settings
from infra.spark import build_spark_session
from infra.storage import delta_io
from transforms import silver
from transforms.catalog import SILVER, SILVER_TABLES

settings = get_settings()
spark = build_spark_session(settings, app_name="notebook-silver")
run_id = f"notebook-{uuid.uuid4()}"
as_of = settings.as_of or datetime.now(UTC)

# COMMAND ----------

counts = {}
quarantine = {}
for table in SILVER_TABLES:
    files = delta_io.list_files(spark, zones.bronze_url(settings, table.name), table.bronze_suffix)
    if not files:
        continue
    urls = [f.url for f in files]
    bronze_df = delta_io.read_bronze(spark, table.bronze_format, urls, table.read_schema, run_id, as_of)
    references = {
        parent: delta_io.read_delta(spark, zones.silver_url(settings, parent), SILVER[parent].schema).select(key)
        for parent, key in table.references
    }
    result = silver.standardize(table.name, bronze_df, references, as_of=as_of, run_id=run_id)
    counts[table.name] = silver.row_counts(bronze_df, result)
    quarantine[table.name] = result.quarantine_df
    c = counts[table.name]
    print(f"{table.name:12} files={len(files):4} bronze={c.bronze:7} silver={c.silver:7} "
          f"quarantined={c.quarantined:5} duplicates={c.duplicates:5} balanced={c.is_balanced}")

# COMMAND ----------

# MAGIC %md Why rows would be rejected, per table and expectation:

# COMMAND ----------

for name, quarantine_df in quarantine.items():
    quarantine_df.groupBy("table_name", "expectation").count().orderBy("expectation").show(truncate=False)
