"""``python -m ingestion.synthetic --sf 0.01 --seed 7 --out <dir> [--days N] [--anomaly-date D] ...``."""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ingestion.synthetic.generator import generate
from transforms import contract as c


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ingestion.synthetic",
        description="Write the synthetic e-commerce sources described in docs/data-contract.md.",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--sf", type=float, default=0.01, help="scale factor (1 = 100k customers, 300k orders)"
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed (same seed -> same bytes)")
    parser.add_argument(
        "--days", type=int, default=1, help="batch dates in all, day 0 being the initial load"
    )
    parser.add_argument("--bad-fraction", type=float, default=0.02, help="fraction of bad records per entity")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 1, 1), help="date of day 0")
    parser.add_argument(
        "--anomaly-date",
        type=date.fromisoformat,
        default=None,
        help="make this UTC date a revenue spike (order-line quantities x --anomaly-factor)",
    )
    parser.add_argument("--anomaly-factor", type=int, default=10, help="quantity multiplier of the spike")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, generate with a progress bar, print rows per entity and the throughput."""
    args = _parser().parse_args(argv)
    console = Console()
    began = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("generating", total=args.days * len(c.ENTITIES))

        def advance(entity: str, batch_date: date, rows: int) -> None:
            progress.update(task, advance=1, description=f"{batch_date} {entity:<12} {rows:>10,} rows")

        summary = generate(
            args.out,
            sf=args.sf,
            seed=args.seed,
            days=args.days,
            bad_fraction=args.bad_fraction,
            start=args.start,
            progress=advance,
            anomaly_date=args.anomaly_date,
            anomaly_factor=args.anomaly_factor,
        )
    elapsed = time.perf_counter() - began
    table = Table(title=f"SF{args.sf:g}, seed {args.seed}, {args.days} day(s) -> {args.out}")
    for column in ("entity", "rows", "clean", "bad"):
        table.add_column(column, justify="left" if column == "entity" else "right")
    for entity, counts in summary.to_json()["entities"].items():
        table.add_row(entity, f"{counts['rows']:,}", f"{counts['clean']:,}", f"{counts['bad']:,}")
    console.print(table)
    console.print(
        f"{summary.rows():,} rows, {summary.bytes_written / 1e6:,.1f} MB in {elapsed:.1f} s "
        f"({summary.rows() / elapsed:,.0f} rows/s)"
    )


if __name__ == "__main__":
    main()
