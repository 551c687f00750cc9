"""Every path of the lake, by zone: the one module that knows where landing, bronze, silver, gold and _ops
things live.

Zones are containers (``Settings.container``); a path inside a zone is the same for the DataLake SDK
(``Settings.lake_path``) and for Spark (``Settings.lake_url``, ``abfs(s)://``). The README draws this layout.
"""

from __future__ import annotations

from typing import Literal

from infra.settings import Settings

# --- landing: raw, as it arrived -------------------------------------------------------------------
CAPTURE_ROOT = "eventhubs"  # Capture: eventhubs/<namespace>/<hub>/<partition>/<Y>/<M>/<D>/<h>/<m>/<s>.avro
APP_EVENTS_LANDING = "app_events"  # raw API pages: app_events/<date>/<page>.json
APP_EVENTS_WATERMARK = f"{APP_EVENTS_LANDING}/_watermark.json"
BATCH_LANDING = "batch"  # batch/<entity>/<yyyy-mm-dd>/<entity>.csv
REJECTED = "_rejected"  # files and pages refused, each with a .reason.json
APP_EVENTS_REJECTED = f"{REJECTED}/app_events"
BATCH_REJECTED = f"{REJECTED}/batch"
SENT_MARKERS = f"{CAPTURE_ROOT}/_sent"  # one marker per generated day of reviews sent completely

# --- bronze: what arrived, in its own format, with ingestion metadata -------------------------------
REVIEWS_BRONZE = "reviews"
APP_EVENTS_BRONZE = "app_events"  # app_events/event_month=<yyyy-mm>/*.parquet
BATCH_MANIFEST = "_ops/manifest/batch"  # in bronze: MD5 manifest of the batch copies
REVIEWS_COPY_LOG = "_ops/copy_log/reviews"  # in bronze: the Capture files copied

# --- silver / gold: Delta tables, and operational tables beside them --------------------------------
OPS = "_ops"
OPS_ZONE: dict[str, Literal["silver", "gold"]] = {
    "processed_files": "silver",  # the bronze files each silver entity has merged
    "load_balance": "silver",  # bronze = silver + quarantined + duplicates, per load
    "dq_results": "gold",  # one row per run, table and check
    "profiles": "gold",  # one row per run, profiled table and column
    "gold_builds": "gold",  # one row per complete gold build: the silver state it was built from
}


def capture_prefix(settings: Settings) -> str:
    """Where Capture writes the reviews hub in landing: ``eventhubs/<namespace>/<hub>``."""
    return f"{CAPTURE_ROOT}/{settings.eventhubs_namespace}/{settings.reviews_hub}"


def bronze_url(settings: Settings, entity: str) -> str:
    """The folder of an entity's bronze files (Spark URL)."""
    return settings.lake_url("bronze", entity)


def silver_url(settings: Settings, table: str) -> str:
    return settings.lake_url("silver", table)


def quarantine_url(settings: Settings, entity: str) -> str:
    return settings.lake_url("silver", f"quarantine_{entity}")


def gold_url(settings: Settings, table: str) -> str:
    return settings.lake_url("gold", table)


def ops_url(settings: Settings, table: str) -> str:
    """An operational table under ``_ops/`` (one of ``OPS_ZONE``: its zone decides where)."""
    if table not in OPS_ZONE:
        raise ValueError(f"unknown operational table {table!r}; expected one of {', '.join(OPS_ZONE)}")
    return settings.lake_url(OPS_ZONE[table], OPS, table)
