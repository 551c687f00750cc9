"""The `lakehouse` command line: the local stack, the synthetic data and the pipeline.

Every command has ``--help``. Settings come from ``LAKEHOUSE_*`` variables or ``.env``
(see infra/settings.py).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from flows.azure_cli import app as azure_app
from flows.stack import launcher_for, stack_specs
from infra.launcher import ServiceError
from infra.settings import get_settings

app = typer.Typer(
    help="A local-first Azure lakehouse on Prefect: run the local Azure-style stack and the pipeline.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
app.add_typer(azure_app, name="azure")


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


@app.command()
def up(
    services: Annotated[list[str] | None, typer.Argument(help="Services to start (default: all).")] = None,
) -> None:
    """Start the local stack (Azurite, DFS endpoint, Event Hubs endpoint) in the background."""
    settings = get_settings()
    if not settings.is_local:
        raise _fail("`lakehouse up` runs the local emulators; set LAKEHOUSE_PROFILE=local (it is 'azure').")
    specs = [s for s in stack_specs(settings) if not services or s.name in services]
    unknown = set(services or []) - {s.name for s in stack_specs(settings)}
    if unknown:
        names = ", ".join(s.name for s in stack_specs(settings))
        raise _fail(f"unknown service(s) {', '.join(sorted(unknown))}; choose from {names}")
    launcher = launcher_for(settings)
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as bar:
        for spec in specs:
            task = bar.add_task(f"starting {spec.name}", total=1)
            started = time.monotonic()
            try:
                launcher.start(spec)
            except ServiceError as exc:
                bar.stop()
                raise _fail(str(exc)) from exc
            bar.update(
                task, completed=1, description=f"{spec.name} healthy ({time.monotonic() - started:.1f} s)"
            )
    if any(s.name == "dfs" for s in specs):
        from infra.lake import Lake

        with Lake(settings) as lake:
            lake.ensure_zones()
    status()


@app.command()
def down() -> None:
    """Stop every service of the local stack (data stays in the state folder)."""
    settings = get_settings()
    launcher = launcher_for(settings)
    for spec in reversed(stack_specs(settings)):
        stopped = launcher.stop(spec)
        console.print(f"{spec.name}: {'stopped' if stopped else 'was not running'}")


@app.command()
def status() -> None:
    """Show each local service with its state and URL."""
    settings = get_settings()
    launcher = launcher_for(settings)
    table = Table(title=f"local stack (state in {settings.state_dir})")
    for column in ("service", "state", "pid", "url", "log"):
        table.add_column(column)
    for spec in stack_specs(settings):
        st = launcher.status(spec)
        state = (
            "[green]healthy[/]"
            if st.healthy
            else ("[yellow]unhealthy[/]" if st.running else "[dim]stopped[/]")
        )
        table.add_row(st.name, state, str(st.pid or "-"), st.url, str(st.log))
    console.print(table)


@app.command()
def logs(
    service: Annotated[str, typer.Argument(help="Service name, e.g. azurite, dfs, eventhubs.")],
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many lines from the end.")] = 40,
) -> None:
    """Print the end of a service's log file."""
    settings = get_settings()
    launcher = launcher_for(settings)
    path = launcher.log_path(service)
    if not path.exists():
        raise _fail(f"no log for {service!r} at {path}; has it been started with `lakehouse up`?")
    console.print(launcher.tail(service, lines), markup=False, highlight=False)


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Folder to write the files into.")] = Path(".state/generated"),
    sf: Annotated[float, typer.Option(help="Scale factor (1 = 100k customers, 300k orders).")] = 0.01,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed writes byte-identical files.")] = 7,
    days: Annotated[int, typer.Option(help="Number of daily batches (day 0 = initial load).")] = 1,
    bad_fraction: Annotated[float, typer.Option(help="Fraction of deliberately bad records.")] = 0.02,
    start: Annotated[str, typer.Option(help="Date of day 0 (YYYY-MM-DD).")] = "2026-01-01",
) -> None:
    """Write synthetic e-commerce data (CSV + JSON lines) and the bad-record manifest."""
    from datetime import date

    from ingestion.synthetic import generate as run_generator

    try:
        start_date = date.fromisoformat(start)
    except ValueError as exc:
        raise _fail(f"--start {start!r} is not a date; use YYYY-MM-DD, e.g. 2026-01-01") from exc
    with console.status(f"generating SF{sf} x {days} day(s) into {out}"):
        summary = run_generator(
            out=out, sf=sf, seed=seed, days=days, bad_fraction=bad_fraction, start=start_date
        )
    console.print(f"wrote {out}: {summary}")


def _use_local_prefect() -> None:
    """Point Prefect (flows, CLI) at the stack's server before any flow is imported."""
    import os

    from flows.stack import prefect_env

    for key, value in prefect_env(get_settings()).items():
        os.environ.setdefault(key, value)


def _require_stack(*names: str) -> None:
    settings = get_settings()
    launcher = launcher_for(settings)
    down = [s.name for s in stack_specs(settings) if s.name in names and not launcher.status(s).healthy]
    if down:
        raise _fail(f"{', '.join(down)} not running; start the local stack with `lakehouse up` first.")


@app.command()
def run(
    sf: Annotated[float, typer.Option(help="Scale factor of the synthetic data.")] = 0.01,
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic data.")] = 7,
    days: Annotated[int, typer.Option(help="Daily batches to ingest (day 0 = initial load).")] = 1,
) -> None:
    """Run the whole pipeline once (the `lakehouse` parent flow) against the running local stack."""
    settings = get_settings()
    if settings.is_local:
        _require_stack("azurite", "dfs", "eventhubs", "app-events-api", "prefect")
    _use_local_prefect()
    from flows.lakehouse import lakehouse

    started = time.monotonic()
    result = lakehouse(sf=sf, seed=seed, days=days)
    console.print(f"[bold green]pipeline completed[/] in {time.monotonic() - started:.0f} s")
    _print_gold(result.medallion.gold_rows)
    console.print(
        f"Prefect UI: http://{settings.host}:{settings.prefect_port}  (runs, artifacts, deployments)\n"
        f"Gold tables: {settings.lake_url('gold')}<table>\n"
        f"Browse the lake in Azure Storage Explorer: 'Attach to a local emulator', Blob port "
        f"{settings.blob_port}, account {settings.storage_account} (landing, bronze, silver, gold).\n"
        f"Power BI: `lakehouse export-gold <dir>` and see powerbi/README.md."
    )


@app.command()
def deploy() -> None:
    """Create the deployments of prefect.yaml (with schedules) and the `spark` concurrency limit."""
    import os
    import subprocess

    from flows.stack import PREFECT_BIN, prefect_env
    from infra.settings import PROJECT_ROOT

    settings = get_settings()
    _require_stack("prefect")
    env = os.environ | prefect_env(settings) | {"PWD": str(PROJECT_ROOT)}
    from flows.deployments import deploy_commands

    for command in deploy_commands():
        done = subprocess.run(
            [str(PREFECT_BIN), *command], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
        )
        if done.returncode and "already exists" not in done.stdout + done.stderr:
            raise _fail(f"`prefect {' '.join(command)}` failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    console.print(f"deployments created; see http://{settings.host}:{settings.prefect_port}/deployments")


@app.command()
def serve() -> None:
    """Serve every deployment of prefect.yaml from this process (no worker needed); Ctrl-C stops it."""
    _use_local_prefect()
    from flows.deployments import serve_all

    serve_all()


@app.command()
def demo(
    sf: Annotated[float, typer.Option(help="Scale factor of the synthetic data.")] = 0.01,
) -> None:
    """Start the local stack, create the deployments and run the pipeline once: the README's first command."""
    import os

    # The app_events API serves the same synthetic day as the pipeline generates.
    os.environ.setdefault("LAKEHOUSE_API_SF", str(sf))
    up(None)
    deploy()
    run(sf=sf, seed=7, days=1)


@app.command("generate-batch")
def generate_batch_command(
    sf: Annotated[float, typer.Option(help="Scale factor.")] = 0.01,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    days: Annotated[int, typer.Option(help="Daily batches (day 0 = initial load).")] = 1,
) -> None:
    """Drop the batch CSV files (customers, products, orders, order_lines) into landing/batch/."""
    _use_local_prefect()
    from flows.batch import generate_batch

    console.print(f"{len(generate_batch(sf=sf, seed=seed, days=days))} file(s) in landing")


@app.command("copy-batch")
def copy_batch_command() -> None:
    """Copy new landing CSV files to bronze (MD5 manifest; bad headers go to landing/_rejected/)."""
    _use_local_prefect()
    from flows.batch import copy_batch_to_bronze

    outcomes = copy_batch_to_bronze()
    console.print(f"{len(outcomes)} file(s) considered; see the `batch-copy` artifact for each outcome")


@app.command("send-reviews")
def send_reviews_command(
    count: Annotated[int | None, typer.Option(help="Send only the first N reviews of the day.")] = None,
    rate: Annotated[float, typer.Option(help="Events per second (0 = as fast as possible).")] = 0.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    sf: Annotated[float, typer.Option(help="Scale factor.")] = 0.01,
    day: Annotated[int, typer.Option(help="Which generated day to send.")] = 0,
) -> None:
    """Send synthetic reviews to Event Hubs (partition key = product_id); Capture lands them as Avro."""
    _use_local_prefect()
    from flows.reviews import send_reviews

    report = send_reviews(count=count, rate=rate, seed=seed, sf=sf, day=day)
    console.print(f"sent {report.events:,} events in {report.batches} batches: {report.events_by_partition}")


@app.command("land-reviews")
def land_reviews_command() -> None:
    """Copy the Capture files not copied yet from landing to bronze (copy log in the lake)."""
    _use_local_prefect()
    from flows.reviews import land_reviews

    console.print(f"{len(land_reviews())} Capture file(s) copied to bronze")


@app.command("pull-app-events")
def pull_app_events_command(
    limit: Annotated[int, typer.Option(help="Events per page.")] = 1000,
    timeout_seconds: Annotated[float, typer.Option(help="HTTP timeout per request.")] = 10.0,
) -> None:
    """Pull app_events from the HTTP API since the watermark into landing and bronze Parquet."""
    _use_local_prefect()
    from flows.app_events import pull_app_events

    console.print(pull_app_events(limit=limit, timeout_seconds=timeout_seconds))


@app.command()
def medallion(
    maintenance: Annotated[bool, typer.Option(help="Also OPTIMIZE and VACUUM.")] = True,
) -> None:
    """Run the medallion flow once (bronze -> silver -> gold, data quality) against the running stack."""
    _use_local_prefect()
    from flows.medallion import medallion as medallion_flow

    result = medallion_flow(run_maintenance=maintenance)
    _print_gold(result.gold_rows)


@app.command("export-gold")
def export_gold(
    out: Annotated[Path, typer.Argument(help="Local folder to write the gold Delta tables into.")],
    table: Annotated[list[str] | None, typer.Option(help="Only these tables (repeatable).")] = None,
) -> None:
    """Copy the current snapshot of every gold Delta table to a local folder (for Power BI)."""
    from infra.gold_export import export_gold as run_export

    counts = run_export(get_settings(), out, table or None)
    _print_gold(counts)
    console.print(
        f"Gold snapshot written to {out.resolve()}; see powerbi/README.md for the local-folder variant."
    )


def _print_gold(counts: dict[str, int]) -> None:
    table = Table(title="gold tables")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in counts.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)


@app.command()
def smoke() -> None:
    """Delta round trip on the running local lake over abfs:// (write, MERGE, time travel, read back)."""
    from flows.smoke import delta_round_trip

    settings = get_settings()
    result = delta_round_trip(settings)
    console.print(result)


if __name__ == "__main__":
    app()
