"""The running endpoint: AMQP listener, ``GET /health`` listener, retention, and (optionally) Capture.

:class:`EventHubsServer` is what ``python -m infra.local.eventhubs`` runs; tests and the benchmark start it
the same way through the launcher. Capture runs as a child process tailing the partition logs (see
:mod:`infra.local.eventhubs.capture`), so its Avro encoding and lake uploads never slow down ingest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from infra.local.eventhubs.amqp import AmqpServer
from infra.local.eventhubs.broker import Broker
from infra.local.eventhubs.config import NamespaceConfig, load_config
from infra.settings import PROJECT_ROOT, Settings

_LOGGER = logging.getLogger(__name__)

HEALTHY = json.dumps({"status": "healthy"}).encode()


@dataclass(frozen=True)
class ServerOptions:
    """Everything the endpoint needs, derived from :class:`Settings` by :meth:`from_settings`."""

    host: str
    amqp_port: int
    health_port: int
    namespace: NamespaceConfig
    data_dir: Path
    key_name: str
    key: str
    retention_hours: float
    fsync: bool = False
    idle_timeout: float = 120.0
    capture: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerOptions:
        key = settings.eventhubs_key.get_secret_value() if settings.eventhubs_key else ""
        fsync = str(settings.eventhubs_fsync).lower()
        return cls(
            host=settings.listen_host,
            amqp_port=settings.amqp_port,
            health_port=settings.eventhubs_health_port,
            namespace=load_config(settings.eventhubs_config),
            data_dir=event_data_dir(settings),
            key_name=settings.eventhubs_key_name,
            key=key,
            retention_hours=settings.eventhubs_retention_hours,
            fsync=fsync in ("1", "true", "yes", "always"),
            capture=settings.capture_enabled,
        )


def event_data_dir(settings: Settings) -> Path:
    """Where the partition logs live: ``<state_dir>/eventhubs``."""
    return settings.state_dir / "eventhubs"


class EventHubsServer:
    """AMQP + health listeners over one :class:`Broker`."""

    def __init__(self, options: ServerOptions, settings: Settings | None = None) -> None:
        self.options = options
        self.settings = settings
        self.broker = Broker(
            options.namespace,
            options.data_dir,
            key_name=options.key_name,
            key=options.key,
            retention_hours=options.retention_hours,
            fsync=options.fsync,
        )
        self.amqp = AmqpServer(self.broker, idle_timeout=options.idle_timeout)
        self._servers: list[asyncio.base_events.Server] = []
        self._tasks: list[asyncio.Task] = []
        self._capture: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._servers.append(
            await loop.create_server(
                self.amqp.protocol, self.options.host, self.options.amqp_port, backlog=256
            )
        )
        self._servers.append(await asyncio.start_server(_health, self.options.host, self.options.health_port))
        self._tasks.append(asyncio.create_task(self._retention()))
        if self.options.capture and self.settings is not None:
            self._capture = start_capture_process(self.settings)
            self._tasks.append(asyncio.create_task(self._watch_capture()))
        _LOGGER.info(
            "Event Hubs endpoint for namespace %s on amqp://%s:%d (health :%d), hubs: %s",
            self.options.namespace.name,
            self.options.host,
            self.options.amqp_port,
            self.options.health_port,
            ", ".join(f"{h.name} ({h.partition_count} partitions)" for h in self.options.namespace.hubs),
        )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for server in self._servers:
            server.close()
        for connection in list(self.amqp.connections):
            connection.close("amqp:connection:forced", "The endpoint is shutting down.")
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
        if self._capture is not None:
            stop_process(self._capture)
        self.broker.close()

    async def _retention(self) -> None:
        while True:
            removed = self.broker.apply_retention()
            if removed:
                _LOGGER.info("retention removed %d old segment(s)", removed)
            await asyncio.sleep(60)

    async def _watch_capture(self) -> None:
        """Restart the Capture process if it dies (it resumes from its checkpoint)."""
        while True:
            await asyncio.sleep(2)
            code = self._capture.poll() if self._capture is not None else None
            # SIGTERM reaches the whole process group when the launcher stops us: that is no crash.
            if code is not None and code not in (0, -signal.SIGTERM) and self.settings is not None:
                _LOGGER.warning("capture exited with %s; restarting it", code)
                self._capture = start_capture_process(self.settings)


async def _health(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """``GET /health`` -> 200 ``{"status":"healthy"}``, like Microsoft's emulator on port 5300."""
    try:
        request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        line = request.split(b"\r\n", 1)[0].split()
        path = line[1].split(b"?")[0] if len(line) > 1 else b""
        if path in (b"/health", b"/health/"):
            status, body = b"200 OK", HEALTHY
        else:
            status, body = b"404 Not Found", b'{"error":"not found"}'
        writer.write(
            b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
        )  # fmt: skip
        await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
        pass
    finally:
        writer.close()


def start_capture_process(settings: Settings) -> subprocess.Popen[bytes]:
    """Capture as a child process tailing this endpoint's partition logs."""
    env = {**os.environ, **settings.to_env()}
    return subprocess.Popen(
        [sys.executable, "-m", "infra.local.eventhubs.capture", "--from-log"], env=env, cwd=PROJECT_ROOT
    )


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Run the endpoint until ``stop`` is set."""
    server = EventHubsServer(ServerOptions.from_settings(settings), settings)
    await server.start()
    try:
        await stop.wait()
    finally:
        await server.stop()
