"""`lakehouse up | status | logs | run | down` as a user runs them: real processes, free ports, temp state."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from infra.local.launcher import free_port
from infra.settings import Settings
from infra.storage.delta_rs import storage_options
from infra.storage.lake import Lake
from tests.conftest import assert_no_server_errors, make_settings
from transforms.catalog import GOLD_TABLES, SILVER_KEYS

pytestmark = [pytest.mark.services]
SERVICES = (
    "azurite",
    "dfs",
    "eventhubs",
    "app-events-api",
    "alerts",
    "dashboard",
    "spark-driver",
    "prefect",
    "worker",
)


def lakehouse(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "flows.cli", *args]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, cwd=Path(__file__).parents[2]
    )


def printed_rows(output: str, title: str) -> dict[str, list[str]]:
    """The rows of the rich table titled ``title`` in ``output``: first cell -> the other cells."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == title)
    rows: dict[str, list[str]] = {}
    for line in lines[start + 1 :]:
        if line.startswith("└"):
            break
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if cells and line.startswith("│"):
            rows[cells[0]] = cells[1:]
    return rows


def gold_rows_in_the_lake(settings: Settings) -> dict[str, int]:
    """Every gold table's rows as delta-rs reads them from the lake (not through our Spark code)."""
    from deltalake import DeltaTable

    options = storage_options(settings)
    return {t: DeltaTable(settings.lake_url("gold", t), storage_options=options).count() for t in GOLD_TABLES}


def test_up_status_down_and_restart_keep_the_data(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "state", api_port=free_port())
    env = os.environ | settings.to_env() | {"COLUMNS": "200", "LAKEHOUSE_API_SF": "0.001"}
    try:
        started = lakehouse(env, "up")
        assert started.returncode == 0, started.stdout + started.stderr
        status = lakehouse(env, "status").stdout
        for name in SERVICES:
            assert any(line.startswith(f"│ {name} ") and "healthy" in line for line in status.splitlines()), (
                status
            )
        assert f"http://127.0.0.1:{settings.prefect_port}" in status
        # The shared driver warms its new JVM up (over ten seconds) until a run wants it.
        assert "Shared Spark driver: warming its JVM up (a run started now stops that and attaches)" in status

        with Lake(settings) as lake:
            lake.write_bytes("landing", "keep/me.txt", b"across restarts")
        logs = lakehouse(env, "logs", "azurite", "-n", "500")
        assert logs.returncode == 0
        assert (
            f"Azurite Blob service successfully listens on http://127.0.0.1:{settings.blob_port}"
            in logs.stdout
        )

        # `lakehouse run` (what `make run` ends with) on the stack `up` started, as a user runs it.
        ran = lakehouse(env, "run", "--sf", "0.001", timeout=1800)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert f"Prefect: the stack's server at http://127.0.0.1:{settings.prefect_port}" in ran.stdout
        assert "pipeline completed" in ran.stdout
        assert "Spark: this run used the stack's shared driver (spark-driver)" in ran.stdout
        assert f"This run: http://127.0.0.1:{settings.prefect_port}/runs/flow-run/" in ran.stdout
        loaded = printed_rows(ran.stdout, "bronze -> silver")
        assert set(loaded) == set(SILVER_KEYS) and all(int(cells[0]) >= 1 for cells in loaded.values())
        gold = {
            t: int(cells[0].replace(",", "")) for t, cells in printed_rows(ran.stdout, "gold tables").items()
        }
        assert gold == gold_rows_in_the_lake(settings)
        assert "Shared Spark driver: free (the next run attaches to it)" in lakehouse(env, "status").stdout

        stopped = lakehouse(env, "down")
        assert stopped.returncode == 0
        assert [
            line.split(":")[0] for line in stopped.stdout.splitlines() if line.endswith("stopped")
        ] == list(reversed(SERVICES))
        assert all(
            "stopped" in line for line in lakehouse(env, "status").stdout.splitlines() if "│ azurite " in line
        )

        assert lakehouse(env, "up", "azurite", "dfs").returncode == 0
        with Lake(settings) as lake:
            assert lake.read_bytes("landing", "keep/me.txt") == b"across restarts"
    finally:
        lakehouse(env, "down")
    assert_no_server_errors(settings.logs_dir / "prefect.log")


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        settings = make_settings(tmp_path / "state", blob_port=port)
        env = os.environ | settings.to_env() | {"COLUMNS": "200"}
        result = lakehouse(env, "up", "azurite")
    assert result.returncode == 1
    assert f"port {port} (blob) is already taken" in result.stdout
    assert "LAKEHOUSE_BLOB_PORT" in result.stdout
