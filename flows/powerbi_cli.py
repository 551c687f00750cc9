"""``lakehouse powerbi ...``: the Power BI tooling of ``powerbi/`` as commands (no ``python -c`` needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from infra.settings import PROJECT_ROOT, get_settings

PBIP = PROJECT_ROOT / "powerbi" / "Lakehouse.pbip"
SEMANTIC_MODEL = PROJECT_ROOT / "powerbi" / "Lakehouse.SemanticModel"

app = typer.Typer(help="Power BI: check the PBIP/TMDL project against gold, switch its source, export gold.")
console = Console()


@app.command()
def check(
    gold: Annotated[
        Path | None,
        typer.Option(help="A local gold folder (from `lakehouse powerbi export`) to check against."),
    ] = None,
) -> None:
    """Check the project files and the model against gold's real Delta schemas (the drift guard)."""
    from powerbi.tmdl import check_model_against_delta, check_project

    problems = check_project(PBIP)
    if gold is not None:
        problems += check_model_against_delta(SEMANTIC_MODEL, gold)
    for problem in problems:
        console.print(f"[red]✗[/] {problem}", markup=False)
    if problems:
        raise typer.Exit(code=1)
    against = f" and gold at {gold}" if gold else " (add --gold DIR to check against a gold export)"
    console.print(f"[green]✓[/] {PBIP.name}: project and model are consistent{against}")


@app.command()
def source(
    which: Annotated[str, typer.Argument(help="'local' (LocalGoldFolder) or 'azure' (StorageUrl).")],
) -> None:
    """Make every model table read gold from the local export folder or from ADLS Gen2 (commit 'azure')."""
    from powerbi.tmdl import switch_gold_source

    try:
        changed = switch_gold_source(SEMANTIC_MODEL, which)
    except ValueError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(code=1) from exc
    console.print(f"{len(changed)} table file(s) now read gold from {which}")


@app.command()
def export(
    out: Annotated[Path, typer.Argument(help="Local folder to write the gold Delta tables into.")],
    table: Annotated[list[str] | None, typer.Option(help="Only these tables (repeatable).")] = None,
) -> None:
    """Copy the current snapshot of every gold Delta table to a local folder (Power BI's Folder variant)."""
    from powerbi.gold_export import export_gold

    counts = export_gold(get_settings(), out, table or None)
    rows = Table(title="gold tables exported")
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    for name, count in counts.items():
        rows.add_row(name, f"{count:,}")
    console.print(rows)
    console.print(
        f"Gold snapshot written to {out.resolve()}; `lakehouse powerbi source local` points the model at it."
    )


@app.command()
def measures(
    gold: Annotated[Path, typer.Argument(help="A local gold folder (from `lakehouse powerbi export`).")],
) -> None:
    """The model's core measures (revenue, orders, AOV, rates, ratings) computed from gold, like Power BI."""
    from powerbi.gold_measures import core_measures_from_gold

    result = core_measures_from_gold(gold)
    for name, value in vars(result).items():
        console.print(f"{name:22} {value}")
