"""Managed background processes for the local stack: start, health-check, stop, status, logs.

A service is a command line plus a health probe. The launcher starts it in its own process group (so it
outlives the CLI that started it), writes its output to ``<state>/logs/<name>.log`` and its pid and ports to
``<state>/run/<name>.json``, waits until the probe answers, and stops it with SIGTERM (then SIGKILL).

The same launcher serves ``lakehouse up`` (fixed ports from settings, state kept across restarts) and the
test fixtures (free ports, a temporary state folder): :func:`running` is the context-manager form.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HealthProbe = Callable[[], bool]


class ServiceError(RuntimeError):
    """A service could not start or stop; the message says why and what to do."""


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one local service."""

    name: str
    command: Sequence[str]
    ports: dict[str, int]  # e.g. {"blob": 10000}; every port is checked free before start
    health: HealthProbe
    url: str  # what `status` prints
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    startup_timeout: float = 60.0
    port_settings: dict[str, str] = field(default_factory=dict)  # port name -> LAKEHOUSE_ variable
    # A log line that says the service has flushed its data and closed. Some services (Azurite under a
    # non-interactive stdin) print it on SIGTERM but never exit; once it shows, the rest is killed.
    closed_marker: str | None = None
    # It needs no other service to start and none needs it while they start: `lakehouse up` starts it first
    # and waits for it last, so its start overlaps theirs.
    starts_alongside: bool = False


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    healthy: bool
    pid: int | None
    url: str
    log: Path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now (for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def tcp_probe(port: int, host: str = "127.0.0.1") -> HealthProbe:
    """Healthy when something accepts TCP connections on ``host:port``."""

    def probe() -> bool:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return True
        except OSError:
            return False

    return probe


def http_probe(url: str, ok: Callable[[httpx.Response], bool] | None = None) -> HealthProbe:
    """Healthy when ``url`` answers over HTTP (any status unless ``ok`` says otherwise)."""

    def probe() -> bool:
        try:
            response = httpx.get(url, timeout=2.0)
        except httpx.HTTPError:
            return False
        return ok(response) if ok else True

    return probe


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours is not alive for our purposes.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _log_has(path: Path, offset: int, marker: str) -> bool:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return marker.encode() in handle.read()
    except OSError:
        return False


class Launcher:
    """Starts and stops the services of one state folder."""

    def __init__(self, state_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.state_dir = state_dir
        self.logs_dir = state_dir / "logs"
        self.run_dir = state_dir / "run"
        self.extra_env = extra_env or {}
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def log_path(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"

    def _record_path(self, name: str) -> Path:
        return self.run_dir / f"{name}.json"

    def _record(self, name: str) -> dict | None:
        path = self._record_path(name)
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            return None

    def pid(self, name: str) -> int | None:
        record = self._record(name)
        if record and _pid_alive(record["pid"]):
            return record["pid"]
        return None

    def start(self, spec: ServiceSpec) -> ServiceStatus:
        """Start ``spec`` unless it already runs; wait until healthy or raise :class:`ServiceError`."""
        self.spawn(spec)
        return self.wait_healthy(spec)

    def spawn(self, spec: ServiceSpec) -> None:
        """Start ``spec``'s process unless it already runs healthy, without waiting for it to be healthy."""
        if self.pid(spec.name) is not None:
            if spec.health():
                return
            self.stop(spec)
        for port_name, port in spec.ports.items():
            if not port_is_free(port):
                variable = spec.port_settings.get(port_name, "the matching LAKEHOUSE_*_PORT setting")
                raise ServiceError(
                    f"{spec.name}: port {port} ({port_name}) is already taken by another process. "
                    f"Stop that process, or choose another port with {variable}=<port>."
                )
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path(spec.name).open("ab")
        log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(spec.command)}\n".encode())
        log.flush()
        env = os.environ | self.extra_env | spec.env
        try:
            process = subprocess.Popen(
                list(spec.command),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=spec.cwd,
                env=env,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise ServiceError(
                f"{spec.name}: cannot run {spec.command[0]!r} ({exc}). Run `make setup`."
            ) from exc
        finally:
            log.close()
        self._children[spec.name] = process
        self._record_path(spec.name).write_text(
            json.dumps({"pid": process.pid, "ports": spec.ports, "command": list(spec.command)})
        )

    def wait_healthy(self, spec: ServiceSpec) -> ServiceStatus:
        """Wait until the started ``spec`` is healthy; stop it and raise :class:`ServiceError` if it fails."""
        process = self._children.get(spec.name)
        deadline = time.monotonic() + spec.startup_timeout
        while time.monotonic() < deadline:
            if spec.health():
                return self.status(spec)
            if process is not None and process.poll() is not None:
                raise ServiceError(
                    f"{spec.name} exited with code {process.returncode} while starting; "
                    f"last lines of {self.log_path(spec.name)}:\n{self.tail(spec.name, 15)}"
                )
            time.sleep(0.2)
        self.stop(spec)
        raise ServiceError(
            f"{spec.name} did not become healthy within {spec.startup_timeout:.0f} s; "
            f"see {self.log_path(spec.name)}:\n{self.tail(spec.name, 15)}"
        )

    def stop(self, spec: ServiceSpec | str, timeout: float = 15.0) -> bool:
        """Stop a service (SIGTERM to its process group, SIGKILL after ``timeout``). True if it ran."""
        name = spec if isinstance(spec, str) else spec.name
        marker = None if isinstance(spec, str) else spec.closed_marker
        pid = self.pid(name)
        child = self._children.pop(name, None)
        if pid is None:
            self._record_path(name).unlink(missing_ok=True)
            return False
        log = self.log_path(name)
        log_offset = log.stat().st_size if log.exists() else 0
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child is not None and child.poll() is not None:
                break
            if child is None and not _pid_alive(pid):
                break
            if marker and _log_has(log, log_offset, marker):
                break
            time.sleep(0.05)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            if child is not None:
                child.wait(5)
        # Reap any leftovers of the group (e.g. node workers).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        if child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(5)
        self._record_path(name).unlink(missing_ok=True)
        return True

    def status(self, spec: ServiceSpec) -> ServiceStatus:
        pid = self.pid(spec.name)
        return ServiceStatus(
            name=spec.name,
            running=pid is not None,
            healthy=pid is not None and spec.health(),
            pid=pid,
            url=spec.url,
            log=self.log_path(spec.name),
        )

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.log_path(name)
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def running(launcher: Launcher, specs: Sequence[ServiceSpec]) -> Iterator[list[ServiceStatus]]:
    """Start ``specs`` in order, yield their status, and stop them (in reverse) however the block ends."""
    started: list[ServiceSpec] = []
    try:
        statuses = []
        for spec in specs:
            statuses.append(launcher.start(spec))
            started.append(spec)
        yield statuses
    finally:
        for spec in reversed(started):
            launcher.stop(spec)
