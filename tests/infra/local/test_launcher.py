"""The launcher runs real processes: start, health, status, port conflicts, logs, clean stop, restart."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from infra.local.launcher import Launcher, ServiceError, ServiceSpec, free_port, http_probe, running
from infra.local.services import azurite_spec
from tests.conftest import make_settings


def http_server_spec(port: int, root: Path) -> ServiceSpec:
    return ServiceSpec(
        name="web",
        command=[sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", str(root)],
        ports={"http": port},
        port_settings={"http": "LAKEHOUSE_TEST_PORT"},
        health=http_probe(f"http://127.0.0.1:{port}/", lambda r: r.status_code == 200),
        url=f"http://127.0.0.1:{port}",
        startup_timeout=20,
    )


def test_start_status_logs_and_stop(tmp_path: Path) -> None:
    launcher = Launcher(tmp_path / "state")
    spec = http_server_spec(free_port(), tmp_path)
    started = launcher.start(spec)
    try:
        assert (started.running, started.healthy) == (True, True)
        assert started.pid == launcher.pid("web")
        # Starting again is a no-op on a healthy service.
        assert launcher.start(spec).pid == started.pid
        assert "starting:" in launcher.tail("web")
    finally:
        assert launcher.stop(spec) is True
    after = launcher.status(spec)
    assert (after.running, after.healthy, after.pid) == (False, False, None)
    assert launcher.stop(spec) is False


def test_port_taken_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        launcher = Launcher(tmp_path / "state")
        with pytest.raises(
            ServiceError, match=rf"port {port} \(http\) is already taken.*LAKEHOUSE_TEST_PORT"
        ):
            launcher.start(http_server_spec(port, tmp_path))


def crashing_spec(message: str, code: int) -> ServiceSpec:
    """A service that prints ``message`` and exits with ``code`` before it is ever healthy."""
    return ServiceSpec(
        name="broken",
        command=[sys.executable, "-c", f"import sys; print({message!r}); sys.exit({code})"],
        ports={},
        health=lambda: False,
        url="-",
    )


def test_a_crashing_service_reports_its_log(tmp_path: Path) -> None:
    spec = crashing_spec("cannot open config", 3)
    with pytest.raises(ServiceError, match=r"(?s)exited with code 3.*cannot open config"):
        Launcher(tmp_path / "state").start(spec)


def test_a_service_spawned_alongside_is_waited_for_later(tmp_path: Path) -> None:
    """What `lakehouse up` does for a service that starts alongside the others (the shared Spark driver)."""
    ready = tmp_path / "ready"
    spec = ServiceSpec(
        name="slow",
        command=[
            sys.executable,
            "-c",
            f"import pathlib, time; time.sleep(1); pathlib.Path({str(ready)!r}).touch(); time.sleep(60)",
        ],
        ports={},
        health=ready.exists,
        url="-",
        startup_timeout=20,
    )
    launcher = Launcher(tmp_path / "state")
    launcher.spawn(spec)
    try:
        assert launcher.pid("slow") is not None and not ready.exists()  # spawn did not wait
        assert launcher.wait_healthy(spec).healthy
    finally:
        launcher.stop(spec)
    broken = crashing_spec("no JVM", 2)
    launcher.spawn(broken)
    with pytest.raises(ServiceError, match=r"(?s)exited with code 2.*no JVM"):
        launcher.wait_healthy(broken)


def test_azurite_restart_keeps_the_data(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "state")
    launcher = Launcher(settings.state_dir)
    key = settings.storage_key.get_secret_value()
    credential = {"account_name": settings.storage_account, "account_key": key}
    with running(launcher, [azurite_spec(settings)]):
        client = BlobServiceClient(settings.blob_url, credential=credential)
        client.create_container("keep").upload_blob("a/b.txt", b"still here")
    assert launcher.status(azurite_spec(settings)).running is False
    with running(launcher, [azurite_spec(settings)]):
        client = BlobServiceClient(settings.blob_url, credential=credential)
        assert client.get_blob_client("keep", "a/b.txt").download_blob().readall() == b"still here"
