"""A small local webhook receiver: where the stack's alerts go when no Slack/Teams URL is set.

Prefect's automations post each notification here (``POST /alerts``, any JSON body); every message is kept,
one JSON line each, in ``<state>/alerts/alerts.jsonl`` with the time it arrived, so it survives restarts.
``GET /alerts`` returns them (oldest first), ``GET /health`` answers 200. ``lakehouse alerts`` reads them.

Run it with ``python -m infra.local.alerts_receiver`` (the launcher does, as service ``alerts``).
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from infra.settings import Settings

log = logging.getLogger("lakehouse.alerts")
MAX_BODY_BYTES = 1024 * 1024


class AlertStore:
    """Alerts as JSON lines in one file; appends are serialised so lines never interleave."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def append(self, message: dict[str, Any]) -> dict[str, Any]:
        record = {"received_at": datetime.now(UTC).isoformat(), "message": message}
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
        return record

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self._lock:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]


def _handler(store: AlertStore) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "lakehouse-alerts/1"

        def _answer(self, status: HTTPStatus, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/health":
                self._answer(HTTPStatus.OK, {"status": "ok"})
            elif self.path == "/alerts":
                self._answer(HTTPStatus.OK, store.read())
            else:
                self._answer(HTTPStatus.NOT_FOUND, {"error": f"no such path {self.path}; try /alerts"})

        def do_POST(self) -> None:
            if self.path != "/alerts":
                self._answer(HTTPStatus.NOT_FOUND, {"error": f"post alerts to /alerts, not {self.path}"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "alert bodies are at most 1 MiB"})
                return
            raw = self.rfile.read(length)
            try:
                message = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                message = {"text": raw.decode("utf-8", "replace")}
            if not isinstance(message, dict):
                message = {"text": message}
            record = store.append(message)
            log.info("alert received: %s", json.dumps(message)[:500])
            self._answer(HTTPStatus.ACCEPTED, record)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("%s %s", self.address_string(), format % args)

    return Handler


def make_server(settings: Settings) -> ThreadingHTTPServer:
    store = AlertStore(settings.state_dir / "alerts" / "alerts.jsonl")
    return ThreadingHTTPServer((settings.listen_host, settings.alerts_port), _handler(store))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings()
    server = make_server(settings)
    log.info("alerts receiver listening on http://%s:%d/alerts", settings.listen_host, settings.alerts_port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
