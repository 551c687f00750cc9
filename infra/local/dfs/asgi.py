"""Just enough ASGI: a request with its body as a stream, and helpers to answer whole or streamed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from infra.local.dfs.errors import StorageError

Scope = dict[str, Any]
Receive = Any
Send = Any

MAX_HEADER_VALUE = 8 * 1024
READ_AHEAD_CHUNKS = 8  # chunks of up to 1 MB buffered between Azurite and a slower client
MAX_HEADERS_TOTAL = 24 * 1024


@dataclass
class Request:
    """One HTTP request: method (after ``X-HTTP-Method-Override``), raw path, decoded query, headers."""

    method: str
    sent_method: str  # the verb on the wire (signed)
    raw_path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    client_ip: str
    receive: Receive
    params: dict[str, str] = field(default_factory=dict)  # query names lower-cased, first value

    @classmethod
    def from_scope(cls, scope: Scope, receive: Receive) -> Request:
        headers: dict[str, str] = {}
        total = 0
        for raw_name, raw_value in scope["headers"]:
            total += len(raw_name) + len(raw_value)
            if len(raw_value) > MAX_HEADER_VALUE or total > MAX_HEADERS_TOTAL:
                raise StorageError("InvalidHeaderValue", "A request header is too large.")
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        raw_path = scope.get("raw_path") or scope["path"].encode()
        query = _parse_query(scope.get("query_string", b"").decode("latin-1"))
        sent = scope["method"].upper()
        override = headers.get("x-http-method-override", "").upper()
        method = override if sent == "PUT" and override in ("PATCH", "PUT") else sent
        client = scope.get("client") or ("", 0)
        params: dict[str, str] = {}
        for name, value in query:
            params.setdefault(name.lower(), value)
        return cls(method, sent, raw_path.decode("latin-1"), query, headers, client[0], receive, params)

    async def body(self) -> AsyncIterator[bytes]:
        """The request body, chunk by chunk as it arrives."""
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise StorageError("InvalidInput", "The client disconnected while sending the body.")
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return

    async def read(self, limit: int = 4 * 1024 * 1024) -> bytes:
        data = bytearray()
        async for chunk in self.body():
            data += chunk
            if len(data) > limit:
                raise StorageError("InvalidInput", "The request body is too large for this operation.")
        return bytes(data)

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("content-length")
        if value is None:
            return None
        if not value.isdigit():
            raise StorageError("InvalidHeaderValue", "Content-Length is not a number.")
        return int(value)


def _parse_query(text: str) -> list[tuple[str, str]]:
    pairs = []
    for item in text.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        try:
            pairs.append((unquote(name, errors="strict"), unquote(value, errors="strict")))
        except UnicodeDecodeError as exc:
            raise StorageError("InvalidQueryParameterValue", "The query string is not valid UTF-8.") from exc
    return pairs


def _encode(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in items]


async def respond(send: Send, status: int, headers: Mapping[str, str], body: bytes = b"") -> None:
    head = {**headers}
    head.setdefault("content-length", str(len(body)))
    await send({"type": "http.response.start", "status": status, "headers": _encode(head)})
    await send({"type": "http.response.body", "body": body})


async def respond_stream(
    send: Send, status: int, headers: Iterable[tuple[str, str]], chunks: AsyncIterator[bytes]
) -> None:
    """Stream ``chunks`` as the body, reading ahead while the client drains what was sent."""
    await send({"type": "http.response.start", "status": status, "headers": _encode(headers)})
    ahead: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=READ_AHEAD_CHUNKS)

    async def produce() -> None:
        try:
            async for chunk in chunks:
                await ahead.put(chunk)
        finally:
            await ahead.put(None)

    producer = asyncio.create_task(produce())
    try:
        while (chunk := await ahead.get()) is not None:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await producer  # re-raises a failure of the upstream read
        await send({"type": "http.response.body", "body": b""})
    finally:
        producer.cancel()
