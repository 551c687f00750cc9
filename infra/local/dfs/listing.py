"""List paths (``GET /<fs>?resource=filesystem``) and filesystems (``GET /?resource=account``).

Paths come from List Blobs in name order. Directory markers and files map one to one; a directory that has no
marker (blobs written by Blob clients straight into Azurite) is reported once, from the ``BlobPrefix`` of a
non-recursive listing or from the names of its blobs in a recursive one. The continuation token carries
Azurite's marker plus the directories already reported that a later page could name again.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from infra.local.dfs.blobstore import BlobItem, BlobStore
from infra.local.dfs.errors import StorageError
from infra.local.dfs.namespace import Namespace, access_control
from infra.local.dfs.operations import system_properties
from infra.local.dfs.paths import ancestors, check_path

MAX_RESULTS = 5000
_FILETIME_EPOCH_OFFSET = 11_644_473_600  # seconds from 1601-01-01 to 1970-01-01


@dataclass
class _Cursor:
    marker: str
    reported: set[str]


def _encode_token(cursor: _Cursor) -> str:
    payload = json.dumps({"m": cursor.marker, "d": sorted(cursor.reported)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode()


def _decode_token(token: str) -> _Cursor:
    try:
        payload = json.loads(base64.urlsafe_b64decode(token.encode()))
        return _Cursor(str(payload["m"]), {str(d) for d in payload["d"]})
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise StorageError("InvalidQueryParameterValue", "The continuation token is not valid.") from exc


def _filetime(http_date: str) -> str:
    """RFC 1123 date -> Windows FILETIME (100 ns ticks since 1601), the DFS ``creationTime`` format."""
    if not http_date:
        return "0"
    seconds = parsedate_to_datetime(http_date).timestamp()
    return str(int((seconds + _FILETIME_EPOCH_OFFSET) * 10_000_000))


def _entry(name: str, is_directory: bool, blob: BlobItem | None, fallback_modified: str) -> dict[str, str]:
    acl = access_control(blob.metadata if blob else {}, is_directory)
    entry = {"name": name}
    if is_directory:
        entry["isDirectory"] = "true"
    entry |= {
        "contentLength": str(0 if is_directory or blob is None else blob.content_length),
        "lastModified": blob.last_modified if blob else fallback_modified,
        "etag": (blob.etag if blob else "0x0").strip('"'),
        "owner": acl["owner"],
        "group": acl["group"],
        "permissions": acl["permissions"],
        "creationTime": _filetime(blob.creation_time if blob else ""),
    }
    system = system_properties(blob.metadata) if blob else {}
    if "x-ms-expiry-time" in system:
        entry["expiryTime"] = _filetime(system["x-ms-expiry-time"])
    if "x-ms-encryption-context" in system:
        entry["EncryptionContext"] = system["x-ms-encryption-context"]
    return entry


async def list_paths(
    namespace: Namespace,
    filesystem: str,
    directory: str,
    recursive: bool,
    max_results: int,
    continuation: str,
    start_from: str = "",
) -> tuple[bytes, str]:
    """One page of the listing as the JSON body, and the continuation token ('' when done).

    ``start_from`` (``beginFrom``, relative to ``directory``) skips the paths that sort before it; a page
    may then be empty and still carry a continuation token, as Azure's pages may.
    """
    store: BlobStore = namespace.store
    directory = directory.strip("/")
    cursor = _decode_token(continuation) if continuation else _Cursor("", set())
    entries: list[dict[str, str]] = []
    if directory:
        check_path(directory)
        info = await namespace.stat(filesystem, directory)
        if info is None:
            raise StorageError("PathNotFound")
        if not info.is_directory:
            item = BlobItem(directory, info.etag, info.last_modified, "", info.content_length, info.metadata)
            body = json.dumps({"paths": [_entry(directory, False, item, "")]}).encode()
            return body, ""
    else:
        await store.container_properties(filesystem)
    prefix = directory + "/" if directory else ""
    page = await store.list_blobs(
        filesystem, prefix, None if recursive else "/", cursor.marker, max(1, min(max_results, MAX_RESULTS))
    )
    fallback_modified = ""
    ordered: list[tuple[str, BlobItem | None]] = sorted(
        [(b.name, b) for b in page.blobs] + [(p, None) for p in page.prefixes], key=lambda pair: pair[0]
    )
    reported = cursor.reported
    for name, blob in ordered:
        if blob is None or recursive:
            implicit = (
                [name.rstrip("/")]
                if blob is None
                else [a for a in ancestors(name) if len(a) > len(directory)]
            )
            for directory_name in implicit:
                if directory_name not in reported:
                    if not fallback_modified:
                        fallback_modified = (await store.container_properties(filesystem)).last_modified
                    entries.append(_entry(directory_name, True, None, fallback_modified))
                    reported.add(directory_name)
        if blob is None:
            continue
        if blob.is_directory:
            if blob.name in reported:
                continue
            reported.add(blob.name)
        entries.append(_entry(blob.name, blob.is_directory, blob, ""))
    if start_from:
        first = (directory + "/" if directory else "") + start_from.strip("/")
        entries = [entry for entry in entries if entry["name"] >= first]
    token = ""
    if page.next_marker:
        last = ordered[-1][0] if ordered else ""
        still_open = {d for d in reported if d + "/" > last or last.startswith(d + "/")}
        token = _encode_token(_Cursor(page.next_marker, still_open))
    return json.dumps({"paths": entries}).encode(), token


async def list_filesystems(
    store: BlobStore, prefix: str, max_results: int, continuation: str
) -> tuple[bytes, str]:
    containers, marker = await store.list_containers(
        prefix, continuation, max(1, min(max_results, MAX_RESULTS))
    )
    visible = [c for c in containers if c["name"] != "$logs"]  # a system container, not a filesystem
    return json.dumps({"filesystems": visible}).encode(), marker
