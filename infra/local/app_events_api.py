"""The app_events HTTP source: a small FastAPI service that serves the synthetic click stream page by page.

``GET /v1/app-events?since=<timestamp>&cursor=<opaque>&limit=<n>`` returns the events the API received at or
after ``since`` (inclusive, so a client that restarts from its watermark may see its last event again) in the
order it received them, ``limit`` at a time, with a ``next_cursor`` until the end. Each event is a record of
the data contract plus ``received_at``: when the API received it, which orders the feed. A late event (the
contract's ``late_event``) is received on its batch date although it occurred earlier.

Bearer-token auth (``LAKEHOUSE_API_TOKEN``), an OpenAPI schema at ``/openapi.json``, ``/health``.

Fault injection, for the tests and for trying the pull flow against a bad day: ``LAKEHOUSE_API_FAULTS`` is a
comma list of ``kind:probability`` drawn once per page request from a generator seeded with
``LAKEHOUSE_API_FAULT_SEED`` (deterministic for a given request sequence):

* ``429`` — Too Many Requests with ``Retry-After``;
* ``500`` — Internal Server Error;
* ``slow`` — answer after ``LAKEHOUSE_API_SLOW_SECONDS`` (longer than a client's timeout);
* ``truncate`` — a 200 whose JSON body is cut in half;
* ``duplicate`` — the page also repeats the last events of the page before it;
* ``poison:<n>`` (a feed position, not a probability) — every page that covers position ``n`` comes back
  truncated, so a client's retries cannot get past it.

``GET /v1/faults`` reports what was injected so far. Run it with ``python -m infra.local.app_events_api``.
"""

# No `from __future__ import annotations`: FastAPI resolves the endpoints' annotations, which name locals.
import asyncio
import base64
import binascii
import bisect
import json
import mmap
import random
import secrets
import tempfile
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from infra.settings import Settings
from ingestion.synthetic import iter_app_events
from transforms.contract import APP_EVENTS, COLUMNS

FAULT_KINDS = ("429", "500", "slow", "truncate", "duplicate")
DUPLICATED_EVENTS = 3
"""How many events of the page before a ``duplicate`` fault repeats."""


class ApiConfig(BaseModel):
    """What the API serves and how it misbehaves: the ``api_*`` fields of :class:`infra.settings.Settings`
    (``LAKEHOUSE_API_SF``, ``LAKEHOUSE_API_FAULTS``, ...), see :meth:`from_settings`."""

    sf: float = 0.01
    seed: int = 7
    days: int = 1
    first_day: int = 0
    """The feed holds batch days ``first_day`` .. ``days - 1`` (day 0, the initial load, spans a year)."""
    bad_fraction: float = 0.02
    start: date = date(2026, 1, 1)
    faults: str = ""
    fault_seed: int = 0
    slow_seconds: float = 30.0
    retry_after_seconds: int = 1
    default_limit: int = 1000
    max_limit: int = 5000

    @classmethod
    def from_settings(cls, settings: Settings) -> "ApiConfig":
        return cls(**{name: getattr(settings, f"api_{name}") for name in cls.model_fields})

    def to_env(self) -> dict[str, str]:
        """These values as ``LAKEHOUSE_API_*`` variables for the API process."""
        return {f"LAKEHOUSE_API_{name.upper()}": str(value) for name, value in self.model_dump().items()}


@dataclass(frozen=True)
class FaultPlan:
    """Probabilities per fault kind and the poisoned feed positions."""

    probabilities: dict[str, float]
    poison: tuple[int, ...] = ()

    @classmethod
    def parse(cls, spec: str) -> "FaultPlan":
        """``"429:0.1,500:0.1,slow:0.05,truncate:0.05,duplicate:0.1,poison:1500"``."""
        probabilities: dict[str, float] = {}
        poison: list[int] = []
        for item in filter(None, (part.strip() for part in spec.split(","))):
            kind, _, value = item.partition(":")
            if kind == "poison":
                poison.append(int(value))
            elif kind in FAULT_KINDS:
                probabilities[kind] = float(value)
            else:
                raise ValueError(
                    f"unknown fault {kind!r} in {spec!r}; expected {', '.join(FAULT_KINDS)} or poison"
                )
        if sum(probabilities.values()) > 1:
            raise ValueError(f"fault probabilities in {spec!r} add up to more than 1")
        return cls(probabilities, tuple(poison))

    def draw(self, rng: random.Random) -> str | None:
        """One fault kind (or None) for the next request."""
        roll, edge = rng.random(), 0.0
        for kind in FAULT_KINDS:
            edge += self.probabilities.get(kind, 0.0)
            if roll < edge:
                return kind
        return None


class AppEvent(BaseModel):
    """One app event as served: the data contract's columns plus ``received_at``."""

    event_id: str | None
    session_id: str
    customer_id: str | None
    event_type: str
    product_id: str | None
    device: str
    occurred_at: str
    received_at: str


class PageInfo(BaseModel):
    offset: int
    count: int


class AppEventsPage(BaseModel):
    """One page of the feed; ``next_cursor`` is null at the end."""

    items: list[AppEvent]
    next_cursor: str | None
    page: PageInfo


class _Blobs:
    """Byte strings appended to an unlinked temporary file and read back through ``mmap``.

    At SF10 the feed is about 5 GB of JSON: kept in the page cache, which the kernel can reclaim, rather than
    on the heap of the API's process.
    """

    def __init__(self) -> None:
        # The file lives as long as the feed (the process): not a context manager.
        self._file = tempfile.TemporaryFile(prefix="lakehouse-app-events-feed-")  # noqa: SIM115
        self._ends = array("q")
        self._size = 0
        self._map: mmap.mmap | None = None

    def append(self, blob: bytes) -> None:
        self._file.write(blob)
        self._size += len(blob)
        self._ends.append(self._size)

    def seal(self) -> None:
        """Done appending: map the file for reading."""
        self._file.flush()
        if self._size:
            self._map = mmap.mmap(self._file.fileno(), self._size, access=mmap.ACCESS_READ)

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, index: int) -> bytes:
        assert self._map is not None, "seal() the blobs before reading them"
        return self._map[self._ends[index - 1] if index else 0 : self._ends[index]]


class _View(Sequence):
    """A read-only sequence of ``length`` values computed by ``value(index)``; a slice gives a list."""

    def __init__(self, length: int, value: Callable[[int], Any]) -> None:
        self._length = length
        self._value = value

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self._value(i) for i in range(*index.indices(self._length))]
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError(index)
        return self._value(index)


@dataclass(frozen=True)
class _Day:
    """A batch day of the feed: its events ``first`` .. ``first + count - 1``, received evenly over it."""

    first: int
    count: int
    start: datetime

    @property
    def step(self) -> timedelta:
        return timedelta(days=1) / (self.count + 1)


class Feed:
    """The events in the order the API received them, serialised; ``received_at`` strictly increases.

    ``items[i]`` is event ``i``'s JSON with its ``received_at`` as the last field, and ``received_at[i]`` that
    timestamp; both are computed on access from the generator's bytes and the day's even spacing.
    """

    def __init__(self, events: _Blobs, days: list[_Day]) -> None:
        self._events = events
        self._days = [day for day in days if day.count]
        self._firsts = [day.first for day in self._days]
        self.items: Sequence[bytes] = _View(len(events), self._item)
        self.received_at: Sequence[str] = _View(len(events), self._received_at)

    def __len__(self) -> int:
        return len(self._events)

    def _received_at(self, index: int) -> str:
        day = self._days[bisect.bisect_right(self._firsts, index) - 1]
        return received_at_iso(day.start + day.step * (index - day.first + 1))

    def _item(self, index: int) -> bytes:
        return b'%s,"received_at":"%s"}' % (self._events[index][:-1], self._received_at(index).encode())

    def position(self, since: str | None) -> int:
        """Index of the first event received at or after ``since``."""
        return 0 if since is None else bisect.bisect_left(self.received_at, since)


def received_at_iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build_feed(config: ApiConfig) -> Feed:
    """The feed of the configured batch days: day ``d``'s events are received evenly over its batch date."""
    events = _Blobs()
    days: list[_Day] = []
    columns = COLUMNS[APP_EVENTS]
    for day in range(config.first_day, config.days):
        # Serialised as generated, straight to the file: a day's records as dicts would hold ~1 KB each.
        first = len(events)
        for record in iter_app_events(config.sf, config.seed, day, config.bad_fraction, config.start):
            events.append(json.dumps({c: record[c] for c in columns}, separators=(",", ":")).encode())
        day_start = datetime.combine(config.start + timedelta(days=day), datetime.min.time(), UTC)
        days.append(_Day(first, len(events) - first, day_start))
    events.seal()
    return Feed(events, days)


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded.encode()))["o"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise HTTPException(status_code=400, detail="invalid cursor") from exc
    if not isinstance(offset, int) or offset < 0:
        raise HTTPException(status_code=400, detail="invalid cursor")
    return offset


def parse_since(since: str) -> str:
    """An ISO 8601 timestamp (``Z`` or an offset) in the feed's ``received_at`` form."""
    try:
        moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
    except ValueError as exc:
        raise HTTPException(
            status_code=400, detail=f"since must be an ISO 8601 timestamp, got {since!r}"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return received_at_iso(moment.astimezone(UTC))


def page_body(feed: Feed, offset: int, end: int, first: int, next_cursor: str | None) -> bytes:
    """The JSON page of ``feed[first:end]`` (``first`` < ``offset`` when a duplicate fault repeats events)."""
    cursor = "null" if next_cursor is None else f'"{next_cursor}"'
    return b"".join(
        [
            b'{"items":[',
            b",".join(feed.items[first:end]),
            f'],"next_cursor":{cursor},"page":{{"offset":{offset},"count":{end - first}}}}}'.encode(),
        ]
    )


def create_app(feed: Feed, token: str, config: ApiConfig) -> FastAPI:
    """The API over ``feed``, guarded by ``token``, misbehaving as ``config.faults`` says."""
    plan = FaultPlan.parse(config.faults)
    rng = random.Random(config.fault_seed)
    injected: Counter[str] = Counter()
    bearer = HTTPBearer(auto_error=False, description="LAKEHOUSE_API_TOKEN")
    app = FastAPI(
        title="app_events API",
        version="1.0.0",
        description="The synthetic click stream, paginated by cursor, for the pull_app_events flow.",
    )

    def authorised(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        given = credentials.credentials.encode() if credentials else b""
        if not secrets.compare_digest(given, token.encode()):
            raise HTTPException(
                status_code=401,
                detail="invalid or missing bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )

    @app.get("/health")
    def health() -> dict[str, Any]:
        """Liveness, and how many events the feed holds."""
        return {"status": "ok", "events": len(feed)}

    @app.get(
        "/v1/app-events",
        response_model=AppEventsPage,
        dependencies=[Depends(authorised)],
        responses={
            400: {"description": "bad since or cursor"},
            401: {"description": "missing or wrong bearer token"},
            429: {"description": "too many requests; wait Retry-After seconds"},
        },
    )
    async def app_events(
        since: Annotated[str | None, Query(description="ISO 8601; events received at or after it")] = None,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
        limit: Annotated[int | None, Query(ge=1, le=config.max_limit)] = None,
    ) -> Response:
        """One page of events in the order the API received them."""
        size = limit or config.default_limit
        offset = decode_cursor(cursor) if cursor else feed.position(parse_since(since) if since else None)
        end = min(offset + size, len(feed))
        fault = plan.draw(rng)
        if fault is not None:
            injected[fault] += 1
        if fault == "429":
            headers = {"Retry-After": str(config.retry_after_seconds)}
            return JSONResponse({"detail": "too many requests"}, status_code=429, headers=headers)
        if fault == "500":
            return JSONResponse({"detail": "injected server error"}, status_code=500)
        if fault == "slow":
            await asyncio.sleep(config.slow_seconds)
        first = max(0, offset - DUPLICATED_EVENTS) if fault == "duplicate" and end > offset else offset
        next_cursor = encode_cursor(end) if end < len(feed) else None
        body = page_body(feed, offset, end, first, next_cursor)
        if fault == "truncate" or any(offset <= n < max(end, offset + 1) for n in plan.poison):
            if fault != "truncate":
                injected["poison"] += 1
            body = body[: len(body) // 2]
        return Response(body, media_type="application/json")

    @app.get("/v1/faults", dependencies=[Depends(authorised)])
    def faults() -> dict[str, int]:
        """How many faults of each kind were injected so far."""
        return {kind: injected.get(kind, 0) for kind in (*FAULT_KINDS, "poison")}

    return app


def main() -> None:
    """Serve the feed on ``LAKEHOUSE_HOST:LAKEHOUSE_API_PORT`` until stopped."""
    import uvicorn

    from infra.settings import get_settings

    settings = get_settings()
    config = ApiConfig.from_settings(settings)
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    if not token:
        raise SystemExit("the app_events API needs LAKEHOUSE_API_TOKEN (profile 'azure' has no default)")
    feed = build_feed(config)
    described = f"sf={config.sf}, seed={config.seed}, days={config.days}, faults={config.faults or 'none'}"
    print(f"app_events API: {len(feed)} events ({described})", flush=True)
    uvicorn.run(
        create_app(feed, token, config),
        host=settings.listen_host,
        port=settings.api_port,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
