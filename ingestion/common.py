"""Small pieces every ingestion path shares: load ids, timestamps, checksums and the storage error seam."""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from azure.core.exceptions import ServiceRequestError, ServiceResponseError

from infra.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")


def in_child_process(call: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``call(*args, **kwargs)`` in a new Python process: its (pickled) result, or its exception raised here.

    For the synthetic generator, whose memory grows with the scale factor (about 9 GB at SF10): a process
    gives its memory back to the machine when it ends, while the flow run's process, which goes on to start
    Spark, would keep the peak.
    """
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(call, *args, **kwargs).result()


class StorageUnavailableError(RuntimeError):
    """The lake's storage endpoint could not be reached; the message says where and what to do."""


def new_load_id(now: datetime | None = None) -> str:
    """A sortable, unique id of one ingestion run: ``20260101T120000Z-1a2b3c``."""
    moment = now or datetime.now(UTC)
    return f"{moment.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    """``2026-01-01T12:00:00.123456Z`` (the contract's UTC form, with microseconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def json_bytes(document: Any) -> bytes:
    """Stable, readable JSON for the small control files kept in the lake."""
    return (json.dumps(document, indent=2, sort_keys=True, default=str) + "\n").encode()


@contextlib.contextmanager
def storage_errors(settings: Settings, action: str) -> Iterator[None]:
    """Turn "cannot reach the endpoint" errors of the Azure SDK into one clear error naming the endpoint."""
    try:
        yield
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise StorageUnavailableError(
            f"storage endpoint {settings.dfs_url} is unreachable while {action}: {exc}. "
            "Work done so far is recorded in the lake; start the storage (lakehouse up) and re-run to finish."
        ) from exc
