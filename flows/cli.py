"""The `lakehouse` command line: the local stack, the synthetic data and the pipeline.

Every command has ``--help``. Settings come from ``LAKEHOUSE_*`` variables or ``.env``
(see infra/settings.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from flows.azure_cli import app as azure_app
from flows.powerbi_cli import app as powerbi_app
from infra.local.launcher import ServiceError, ServiceSpec
from infra.local.services import launcher_for, spark_cluster_specs, stack_specs
from infra.settings import Settings, get_settings

app = typer.Typer(
    help="A local-first Azure lakehouse on Prefect: run the local Azure-style stack and the pipeline.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
app.add_typer(powerbi_app, name="powerbi")
app.add_typer(azure_app, name="azure")


@app.callback()
def _main() -> None:
    """Point Prefect at the stack's server before any command imports it (no temporary servers)."""
    _use_local_prefect()


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


SPARK_CLUSTER = "spark"  # `lakehouse up spark`: the standalone master and its workers


@app.command()
def up(
    services: Annotated[
        list[str] | None,
        typer.Argument(
            help="Services to start (default: all but the Spark cluster). `spark` starts the local Spark "
            "standalone master and its workers (about 3.5 GB), which flows use with "
            "LAKEHOUSE_SPARK_MASTER=spark://127.0.0.1:7077."
        ),
    ] = None,
) -> None:
    """Start the local stack (Azurite, DFS endpoint, Event Hubs endpoint, ...) in the background."""
    _start_stack(get_settings(), services)


def _every_spec(settings: Settings) -> list[ServiceSpec]:
    """The stack's services, then the optional Spark cluster's."""
    return [*stack_specs(settings), *spark_cluster_specs(settings)]


def _start_stack(settings: Settings, services: list[str] | None) -> None:
    if not settings.is_local:
        raise _fail("`lakehouse up` runs the local emulators; set LAKEHOUSE_PROFILE=local (it is 'azure').")
    cluster = {s.name for s in spark_cluster_specs(settings)}
    wanted = set(services or []) | (cluster if SPARK_CLUSTER in (services or []) else set())
    unknown = wanted - {s.name for s in _every_spec(settings)} - {SPARK_CLUSTER}
    if unknown:
        names = ", ".join([s.name for s in stack_specs(settings)] + [SPARK_CLUSTER, *sorted(cluster)])
        raise _fail(f"unknown service(s) {', '.join(sorted(unknown))}; choose from {names}")
    # The cluster costs memory (a master, two workers and their executors): it runs only when asked for.
    specs = [s for s in _every_spec(settings) if s.name in wanted or (not services and s.name not in cluster)]
    launcher = launcher_for(settings)
    # Services that need none of the others start first and are waited for last: their start overlaps.
    alongside = [s for s in specs if s.starts_alongside]
    in_turn = [s for s in specs if not s.starts_alongside]
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as bar:

        def step(spec: ServiceSpec, call: Callable[[ServiceSpec], object]) -> None:
            try:
                call(spec)
            except ServiceError as exc:
                bar.stop()
                raise _fail(str(exc)) from exc

        tasks = {s.name: (bar.add_task(f"starting {s.name}", total=1), time.monotonic()) for s in alongside}
        for spec in alongside:
            step(spec, launcher.spawn)
        for spec in [*in_turn, *alongside]:
            task, started = tasks.get(spec.name) or (
                bar.add_task(f"starting {spec.name}", total=1),
                time.monotonic(),
            )
            step(spec, launcher.wait_healthy if spec in alongside else launcher.start)
            bar.update(
                task, completed=1, description=f"{spec.name} healthy ({time.monotonic() - started:.1f} s)"
            )
    if any(s.name == "dfs" for s in specs):
        from infra.storage.lake import Lake

        with Lake(settings) as lake:
            lake.ensure_zones()
    status()
    if cluster & {s.name for s in specs} and settings.spark_master != settings.spark_cluster_url:
        console.print(
            f"Flows still use Spark master {settings.spark_master}; to send them to the cluster:\n"
            f"  export LAKEHOUSE_SPARK_MASTER={settings.spark_cluster_url}"
        )


@app.command()
def down() -> None:
    """Stop every service of the local stack (data stays in the state folder)."""
    settings = get_settings()
    launcher = launcher_for(settings)
    for spec in reversed(_every_spec(settings)):
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
    for spec in _every_spec(settings):
        st = launcher.status(spec)
        state = (
            "[green]healthy[/]"
            if st.healthy
            else ("[yellow]unhealthy[/]" if st.running else "[dim]stopped[/]")
        )
        table.add_row(st.name, state, str(st.pid or "-"), st.url, str(st.log))
    console.print(table)
    console.print(f"Spark master of the flows: {settings.spark_master} (LAKEHOUSE_SPARK_MASTER)")
    driver = next((s for s in stack_specs(settings) if s.name == "spark-driver"), None)
    if driver and launcher.status(driver).healthy:
        from infra.spark import shared_driver_holder, shared_driver_warming_file

        holder = shared_driver_holder(settings)
        if shared_driver_warming_file(settings).exists():
            console.print(
                "Shared Spark driver: warming its JVM up (a run started now stops that and attaches)"
            )
        elif holder is None:
            console.print("Shared Spark driver: free (the next run attaches to it)")
        else:
            console.print(
                f"Shared Spark driver: in use by run pid {holder} (a run started now starts its own JVM)"
            )
    alerts_service = next((s for s in stack_specs(settings) if s.name == "alerts"), None)
    if alerts_service and launcher.status(alerts_service).healthy:
        import httpx

        received = httpx.get(f"{settings.alerts_receiver_url}/alerts", timeout=10).json()
        if received:
            latest = received[-1]["message"].get("subject", "")
            console.print(f"alerts: {len(received)} received, latest: {latest}  (`lakehouse alerts`)")


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
    anomaly_date: Annotated[
        str | None, typer.Option(help="Make this UTC date (YYYY-MM-DD) a known revenue spike.")
    ] = None,
) -> None:
    """Write synthetic e-commerce data (CSV + JSON lines) and the bad-record manifest."""
    from datetime import date

    from ingestion.synthetic import generate as run_generator

    try:
        start_date = date.fromisoformat(start)
    except ValueError as exc:
        raise _fail(f"--start {start!r} is not a date; use YYYY-MM-DD, e.g. 2026-01-01") from exc
    try:
        spike = date.fromisoformat(anomaly_date) if anomaly_date else None
    except ValueError as exc:
        raise _fail(f"--anomaly-date {anomaly_date!r} is not a date; use YYYY-MM-DD") from exc
    with console.status(f"generating SF{sf} x {days} day(s) into {out}"):
        summary = run_generator(
            out=out,
            sf=sf,
            seed=seed,
            days=days,
            bad_fraction=bad_fraction,
            start=start_date,
            anomaly_date=spike,
        )
    console.print(f"wrote {out}: {summary}")


def _use_local_prefect() -> None:
    """Point Prefect (flows, CLI) at the stack's server before Prefect is imported.

    Prefect reads its settings once, at import; a command that ran a flow without ``PREFECT_API_URL`` would
    start a temporary server of its own. A ``PREFECT_API_URL`` of the user's (Prefect Cloud, a shared server)
    wins over the stack's.
    """
    import os

    from infra.local.services import prefect_env

    settings = get_settings()
    if settings.prefect_api or not settings.is_local:
        return  # PREFECT_API_URL, or on azure Prefect's own profile (`prefect cloud login`), says where
    for key, value in prefect_env(settings).items():
        os.environ.setdefault(key, value)


def _start_flow_run(*stack_services: str) -> str:
    """Check the services a flow command needs, quiet the terminal, and say which Prefect server is used."""
    settings = get_settings()
    api = settings.prefect_api_url
    if settings.prefect_api:
        console.print(f"[dim]Prefect: {api} (PREFECT_API_URL)[/]")
    elif settings.is_local:
        _require_stack("prefect", *stack_services)
        console.print(f"[dim]Prefect: the stack's server at {settings.prefect_ui_url}[/]")
    else:
        console.print("[dim]Prefect: the API of your Prefect profile (`prefect cloud login`)[/]")
    if settings.is_local and settings.spark_master == settings.spark_cluster_url:
        _require_stack(*(s.name for s in spark_cluster_specs(settings)))
    from flows.console import quiet_prefect_console

    quiet_prefect_console(console, settings.logs_dir / "flows.log")
    return api.removesuffix("/api")


def _flow_run_link(ui: str, state: object) -> str:
    run_id = getattr(getattr(state, "state_details", None), "flow_run_id", None)
    return f"{ui}/runs/flow-run/{run_id}" if run_id else ui


def _require_stack(*names: str) -> None:
    settings = get_settings()
    launcher = launcher_for(settings)
    down = [s.name for s in _every_spec(settings) if s.name in names and not launcher.status(s).healthy]
    if down:
        command = "lakehouse up spark" if all(n.startswith("spark-") for n in down) else "lakehouse up"
        raise _fail(f"{', '.join(down)} not running; start the local stack with `{command}` first.")


@app.command()
def run(
    sf: Annotated[float, typer.Option(help="Scale factor of the synthetic data.")] = 0.01,
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic data.")] = 7,
    days: Annotated[int, typer.Option(help="Daily batches to ingest (day 0 = initial load).")] = 1,
) -> None:
    """Run the whole pipeline once (the `lakehouse` parent flow) against the running local stack."""
    settings = get_settings()
    ui = _start_flow_run("azurite", "dfs", "eventhubs", "app-events-api")
    from flows.lakehouse import lakehouse

    started = time.monotonic()
    state = lakehouse(sf=sf, seed=seed, days=days, return_state=True)
    link = _flow_run_link(ui, state)
    if not state.is_completed():
        console.print(f"[bold red]pipeline {state.name}[/] after {time.monotonic() - started:.0f} s")
        raise _fail(f"{state.message}\nThe run, its logs and artifacts: {link}")
    result = state.result()
    console.print(f"[bold green]pipeline completed[/] in {time.monotonic() - started:.0f} s")
    from infra.spark import on_shared_driver

    driver = "the stack's shared driver (spark-driver)" if on_shared_driver() else "a driver JVM of its own"
    console.print(f"[dim]Spark: this run used {driver}[/]")
    _print_layers(result.medallion.loads)
    _print_gold(result.medallion.gold_rows)
    console.print(
        f"This run: {link}\n"
        f"Prefect UI: {ui}  (runs, artifacts, deployments)\n"
        f"Dashboard: {settings.dashboard_url}  (gold, data quality, the stream)\n"
        f"Gold tables: {settings.lake_url('gold')}<table>\n"
        f"Browse the lake in Azure Storage Explorer: 'Attach to a local emulator', Blob port "
        f"{settings.blob_port}, account {settings.storage_account} (landing, bronze, silver, gold).\n"
        f"Power BI: `lakehouse powerbi export <dir>` and see powerbi/README.md."
    )


@app.command()
def deploy(
    prefect_file: Annotated[
        Path | None, typer.Option(help="Deployments to create (default: the project's prefect.yaml).")
    ] = None,
) -> None:
    """Create the deployments of prefect.yaml (with schedules), the `spark` concurrency limit, the alerts."""
    import os
    import subprocess

    from infra.local.services import PREFECT_BIN, prefect_env
    from infra.settings import PROJECT_ROOT

    settings = get_settings()
    if settings.is_local:
        _require_stack("prefect")
    env = os.environ | prefect_env(settings) | {"PWD": str(PROJECT_ROOT)}
    from flows.deployments import create_pool_and_spark_limit, deploy_command

    create_pool_and_spark_limit()
    command = deploy_command(prefect_file=prefect_file)
    done = subprocess.run(
        [str(PREFECT_BIN), *command], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise _fail(f"`prefect {' '.join(command)}` failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    from flows.alerts import configure_alerts

    try:
        automations = configure_alerts(settings)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    ui = settings.prefect_api_url.removesuffix("/api")
    console.print(
        f"deployments created; see {ui}/deployments\n"
        f"alerts: automations {', '.join(automations)} post to "
        f"{'LAKEHOUSE_ALERT_WEBHOOK_URL' if settings.alert_webhook_url else settings.alert_target} "
        f"(`lakehouse alerts` lists what the local receiver got)"
    )


@app.command()
def alerts(
    last: Annotated[int, typer.Option("--last", "-n", help="How many of the latest alerts.")] = 20,
) -> None:
    """Show the alerts the local webhook receiver got (failed runs, failed data-quality checks)."""
    import httpx

    settings = get_settings()
    if settings.alert_webhook_url is not None:
        raise _fail("alerts go to LAKEHOUSE_ALERT_WEBHOOK_URL (Slack, Teams, ...); look there.")
    try:
        received = httpx.get(f"{settings.alerts_receiver_url}/alerts", timeout=10).json()
    except httpx.HTTPError as exc:
        raise _fail(
            f"the alerts receiver at {settings.alerts_receiver_url} does not answer ({exc}); "
            "start it with `lakehouse up alerts`"
        ) from exc
    table = Table(title=f"alerts ({len(received)} received, latest {min(last, len(received))})")
    for column in ("received", "subject", "message"):
        table.add_column(column, overflow="fold")
    for alert in received[-last:]:
        message = alert["message"]
        table.add_row(
            alert["received_at"][:19], message.get("subject", ""), message.get("text", str(message))
        )
    console.print(table)


@app.command()
def serve() -> None:
    """Serve every deployment of prefect.yaml from this process (no worker needed); Ctrl-C stops it."""
    from flows.deployments import serve_all

    serve_all()


@app.command()
def demo(
    sf: Annotated[float, typer.Option(help="Scale factor of the synthetic data.")] = 0.01,
) -> None:
    """Start the local stack, create the deployments and run the pipeline once: the README's first command."""
    # The app_events API serves the same synthetic day as the pipeline generates.
    _start_stack(get_settings().model_copy(update={"api_sf": sf}), None)
    deploy()
    run(sf=sf, seed=7, days=1)


@app.command("generate-batch")
def generate_batch_command(
    sf: Annotated[float, typer.Option(help="Scale factor.")] = 0.01,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    days: Annotated[int, typer.Option(help="Daily batches (day 0 = initial load).")] = 1,
) -> None:
    """Drop the batch CSV files (customers, products, orders, order_lines) into landing/batch/."""
    _start_flow_run("azurite", "dfs")
    from flows.batch import generate_batch

    console.print(f"{len(generate_batch(sf=sf, seed=seed, days=days))} file(s) in landing")


@app.command("copy-batch")
def copy_batch_command() -> None:
    """Copy new landing CSV files to bronze (MD5 manifest; bad headers go to landing/_rejected/)."""
    _start_flow_run("azurite", "dfs")
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
    _start_flow_run("azurite", "dfs")
    from flows.reviews import send_reviews

    report = send_reviews(count=count, rate=rate, seed=seed, sf=sf, day=day)
    console.print(f"sent {report.events:,} events in {report.batches} batches: {report.events_by_partition}")


@app.command("land-reviews")
def land_reviews_command() -> None:
    """Copy the Capture files not copied yet from landing to bronze (copy log in the lake)."""
    _start_flow_run("azurite", "dfs")
    from flows.reviews import land_reviews

    console.print(f"{len(land_reviews())} Capture file(s) copied to bronze")


@app.command("pull-app-events")
def pull_app_events_command(
    limit: Annotated[int, typer.Option(help="Events per page (the API allows up to 5,000).")] = 5000,
    timeout_seconds: Annotated[float, typer.Option(help="HTTP timeout per request.")] = 10.0,
) -> None:
    """Pull app_events from the HTTP API since the watermark into landing and bronze Parquet."""
    _start_flow_run("azurite", "dfs")
    from flows.app_events import pull_app_events

    console.print(pull_app_events(limit=limit, timeout_seconds=timeout_seconds))


@app.command()
def medallion(
    maintenance: Annotated[bool, typer.Option(help="Also OPTIMIZE and VACUUM.")] = True,
) -> None:
    """Run the medallion flow once (bronze -> silver -> gold, data quality) against the running stack."""
    _start_flow_run("azurite", "dfs")
    from flows.medallion import medallion as medallion_flow

    result = medallion_flow(run_maintenance=maintenance)
    _print_gold(result.gold_rows)


def _print_layers(loads: list) -> None:
    table = Table(title="bronze -> silver")
    for column in ("table", "files", "bronze", "silver", "quarantined", "duplicates"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for load in loads:
        table.add_row(
            load.table,
            *(f"{n:,}" for n in (load.files, load.bronze, load.silver, load.quarantined, load.duplicates)),
        )
    console.print(table)


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
