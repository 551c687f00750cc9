"""Benchmark of the synthetic generator: SF1, day 0, into a temporary folder.

Prints rows/s overall and per entity, and MB written. Run: ``.venv/bin/python bench/bench_generator.py``
(``--sf`` and ``--seed`` to change the scale). Per-entity time runs from the previous file written to this
one, so it covers generating and writing that entity; the Faker pools are built (and timed) first.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

from ingestion.synthetic import generate
from ingestion.synthetic.pools import build_pools
from transforms import contract as c


def main() -> None:
    """Generate once and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sf", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    began = time.perf_counter()
    build_pools(args.seed)
    pools_s = time.perf_counter() - began
    timings: dict[str, float] = {}
    rows: dict[str, int] = {}
    last = [time.perf_counter()]

    def lap(entity: str, _batch_date: date, written: int) -> None:
        now = time.perf_counter()
        timings[entity] = timings.get(entity, 0.0) + now - last[0]
        rows[entity] = rows.get(entity, 0) + written
        last[0] = now

    with tempfile.TemporaryDirectory(prefix="bench_generator_") as folder:
        summary = generate(Path(folder), sf=args.sf, seed=args.seed, days=1, progress=lap)
    total_s = time.perf_counter() - began

    print(f"synthetic generator, SF{args.sf:g} day 0, seed {args.seed}")
    print(f"{'entity':<12} {'rows':>10} {'seconds':>8} {'rows/s':>10}")
    for entity in c.ENTITIES:
        seconds = timings[entity]
        print(f"{entity:<12} {rows[entity]:>10,} {seconds:>8.2f} {rows[entity] / seconds:>10,.0f}")
    print(f"{'(pools)':<12} {'':>10} {pools_s:>8.2f}")
    total_rows, megabytes = summary.rows(), summary.bytes_written / 1e6
    print(
        f"{'total':<12} {total_rows:>10,} {total_s:>8.2f} {total_rows / total_s:>10,.0f}"
        f"   {megabytes:,.1f} MB written ({megabytes / total_s:,.1f} MB/s)"
    )


if __name__ == "__main__":
    main()
