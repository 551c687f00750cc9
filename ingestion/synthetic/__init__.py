"""Synthetic e-commerce sources: customers, products, orders, order lines, reviews and app events.

Deterministic for a seed, scaled by a scale factor, with deliberately bad records listed in a manifest.
What is written, and in which form, is docs/data-contract.md.

- `generate` writes the files of all batch dates, ``manifest.csv`` and ``summary.json``.
- `iter_reviews` / `iter_app_events` / `iter_records` yield one day's file content in memory.
- `clean_records` yields the records silver must keep (ground truth for expected gold figures).
"""

from ingestion.synthetic.generator import (
    BatchCount,
    GenerationSummary,
    clean_records,
    generate,
    iter_app_events,
    iter_records,
    iter_reviews,
)
from ingestion.synthetic.model import Config, defect_plan, planned_rows

__all__ = [
    "BatchCount",
    "Config",
    "GenerationSummary",
    "clean_records",
    "defect_plan",
    "generate",
    "iter_app_events",
    "iter_records",
    "iter_reviews",
    "planned_rows",
]
