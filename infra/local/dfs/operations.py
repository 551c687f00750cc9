"""The DFS path operations: create, append, flush, properties, access control, delete and rename.

Each handler takes the request and the (filesystem, path) it addresses and returns a :class:`Reply`; errors
are raised as :class:`StorageError`. Files are committed block blobs: ``append`` stages a block whose id
encodes its position, ``flush`` commits the staged blocks that tile the file up to ``position``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from multidict import CIMultiDict, CIMultiDictProxy

from infra.local.dfs.asgi import Request
from infra.local.dfs.blobstore import (
    ENCRYPTION_CONTEXT_KEY,
    EXPIRY_KEY,
    TRANSACTION_KEY,
    Answer,
    BlobProperties,
    BlobStore,
    block_id,
    block_position,
    metadata_headers,
    raise_for,
)
from infra.local.dfs.errors import StorageError
from infra.local.dfs.namespace import (
    Namespace,
    PathInfo,
    parse_properties,
    reserved_metadata,
    updated_access_control,
)
from infra.local.dfs.paths import is_within, join_path, parent_of

COPY_CONCURRENCY = 16
# DFS content headers and the Blob API headers that set the same property.
CONTENT_HEADERS = {
    "x-ms-cache-control": "x-ms-blob-cache-control",
    "x-ms-content-type": "x-ms-blob-content-type",
    "x-ms-content-encoding": "x-ms-blob-content-encoding",
    "x-ms-content-language": "x-ms-blob-content-language",
    "x-ms-content-disposition": "x-ms-blob-content-disposition",
    "x-ms-content-md5": "x-ms-blob-content-md5",
}
# The same properties as a Get Blob Properties answer names them.
STORED_CONTENT_HEADERS = {
    "cache-control": "x-ms-blob-cache-control",
    "content-type": "x-ms-blob-content-type",
    "content-encoding": "x-ms-blob-content-encoding",
    "content-language": "x-ms-blob-content-language",
    "content-disposition": "x-ms-blob-content-disposition",
}
ACL_HEADERS = ("x-ms-owner", "x-ms-group", "x-ms-permissions", "x-ms-acl")
CONDITIONS = ("if-match", "if-none-match", "if-modified-since", "if-unmodified-since")
MAX_ENCRYPTION_CONTEXT = 1024


@dataclass
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def written(response_headers: Mapping[str, str], status: int = 201) -> Reply:
    """The usual answer to a write: status, ETag and Last-Modified of the result."""
    headers = {"content-length": "0", "x-ms-request-server-encrypted": "false"}
    for name in ("etag", "last-modified"):
        if response_headers.get(name):
            headers[name] = response_headers[name]
    return Reply(status, headers)


def _etag(value: str) -> str:
    return value.strip().removeprefix("W/").strip('"')


def check_conditions(
    info: PathInfo | None,
    headers: Mapping[str, str],
    prefix: str = "",
    failed: str = "ConditionNotMet",
    exists: str | None = None,
) -> None:
    """Evaluate If-Match / If-None-Match / If-(Un)Modified-Since (``prefix`` selects ``x-ms-source-``)."""
    if_match = headers.get(prefix + "if-match")
    if_none_match = headers.get(prefix + "if-none-match")
    if if_match:
        if info is None:
            raise StorageError(failed)
        if if_match.strip() != "*" and _etag(if_match) != _etag(info.etag):
            raise StorageError(failed)
    if if_none_match and info is not None:
        if if_none_match.strip() == "*":
            raise StorageError(exists or failed, headers=existing_type(info))
        if _etag(if_none_match) == _etag(info.etag):
            raise StorageError(failed)
    if info is not None and (
        headers.get(prefix + "if-modified-since") or headers.get(prefix + "if-unmodified-since")
    ):
        modified = parsedate_to_datetime(info.last_modified)
        since = headers.get(prefix + "if-modified-since")
        until = headers.get(prefix + "if-unmodified-since")
        if since and modified <= parsedate_to_datetime(since):
            raise StorageError(failed)
        if until and modified > parsedate_to_datetime(until):
            raise StorageError(failed)


def existing_type(info: PathInfo) -> dict[str, str]:
    """The header a 409 about an existing path carries: the ABFS driver takes a mkdir's 409 as success only
    when it says ``directory``."""
    return {"x-ms-existing-resource-type": info.resource_type}


def _transaction(headers: Mapping[str, str]) -> dict[str, str]:
    """The client's ``x-ms-client-transaction-id``, as the metadata that keeps it on the path."""
    value = headers.get("x-ms-client-transaction-id")
    return {TRANSACTION_KEY: value} if value else {}


def _creates_new_only(headers: Mapping[str, str]) -> bool:
    """Whether a create's conditions are at most ``If-None-Match: *`` (what the ABFS driver and SDKs send)."""
    if any(headers.get(name) for name in ("if-match", "if-modified-since", "if-unmodified-since")):
        return False
    return headers.get("if-none-match", "*").strip() == "*"


def _as_written(
    response_headers: Mapping[str, str],
    content_length: int,
    metadata: Mapping[str, str],
    sent: Mapping[str, str],
) -> BlobProperties:
    """The properties Get Blob Properties would show of a file just written with ``sent`` headers."""
    shown = {"content-type": "application/octet-stream"}  # Azure's (and Azurite's) default
    shown |= {name: sent[stored] for name, stored in STORED_CONTENT_HEADERS.items() if stored in sent}
    return BlobProperties(
        etag=response_headers.get("etag", ""),
        last_modified=response_headers.get("last-modified", ""),
        content_length=content_length,
        metadata=dict(metadata),
        headers=CIMultiDictProxy(CIMultiDict(shown)),
    )


def _lease(headers: Mapping[str, str]) -> dict[str, str]:
    return {"x-ms-lease-id": headers["x-ms-lease-id"]} if headers.get("x-ms-lease-id") else {}


def _chain(staged: Mapping[int, tuple[str, int]], start: int, position: int) -> list[tuple[str, int]] | None:
    """The staged blocks, as (id, size), that tile the file from ``start`` to ``position`` (None: none do)."""
    chain, cursor = [], start
    while cursor < position and cursor in staged:
        block, size = staged[cursor]
        chain.append((block, size))
        cursor += size
    return chain if cursor == position else None


def _position(request: Request) -> int:
    value = request.params.get("position")
    if value is None or not value.isdigit():
        raise StorageError(
            "InvalidQueryParameterValue", "The position query parameter must be a non-negative integer."
        )
    return int(value)


def expiry_ms(headers: Mapping[str, str], created_ms: int | None = None) -> int | None:
    """The expiry (epoch ms) that ``x-ms-expiry-option`` / ``x-ms-expiry-time`` ask for; 0 = never expires."""
    option = headers.get("x-ms-expiry-option", "")
    value = headers.get("x-ms-expiry-time", "")
    if not option:
        return None
    if option == "NeverExpire":
        return 0
    try:
        if option == "Absolute":
            return int(parsedate_to_datetime(value).timestamp() * 1000)
        if option in ("RelativeToNow", "RelativeToCreation") and value.isdigit():
            start = created_ms if option == "RelativeToCreation" and created_ms else int(time.time() * 1000)
            return start + int(value)
    except (TypeError, ValueError):
        pass
    raise StorageError("InvalidHeaderValue", "x-ms-expiry-option / x-ms-expiry-time are not valid.")


async def gather_limited(jobs: Iterable[Awaitable[object]], limit: int = COPY_CONCURRENCY) -> None:
    """Await ``jobs`` with at most ``limit`` running at once."""
    gate = asyncio.Semaphore(limit)

    async def run(job: Awaitable[object]) -> None:
        async with gate:
            await job

    await asyncio.gather(*(run(job) for job in jobs))


def _system_properties(headers: Mapping[str, str]) -> dict[str, str]:
    """The expiry and encryption context a file create asks for, as the metadata that keeps them."""
    found: dict[str, str] = {}
    expiry = expiry_ms(headers)
    if expiry:
        found[EXPIRY_KEY] = str(expiry)
    context = headers.get("x-ms-encryption-context")
    if context:
        if len(context) > MAX_ENCRYPTION_CONTEXT or not context.isascii():
            raise StorageError("InvalidHeaderValue", "x-ms-encryption-context is too long or not ASCII.")
        found[ENCRYPTION_CONTEXT_KEY] = context
    return found


def system_properties(metadata: Mapping[str, str]) -> dict[str, str]:
    """The response headers of a file's expiry and encryption context (none if not set)."""
    lowered = {k.lower(): v for k, v in metadata.items()}
    headers = {}
    if lowered.get(EXPIRY_KEY, "").isdigit():
        moment = datetime.fromtimestamp(int(lowered[EXPIRY_KEY]) / 1000, UTC)
        headers["x-ms-expiry-time"] = format_datetime(moment, usegmt=True)
    if lowered.get(ENCRYPTION_CONTEXT_KEY):
        headers["x-ms-encryption-context"] = lowered[ENCRYPTION_CONTEXT_KEY]
    return headers


class PathOperations:
    """DFS operations on files and directories."""

    def __init__(self, namespace: Namespace, delete_batch: int = 5000) -> None:
        self.ns = namespace
        self.store: BlobStore = namespace.store
        self.delete_batch = delete_batch

    # --- create -------------------------------------------------------------------------------
    async def create(self, request: Request, filesystem: str, path: str) -> Reply:
        resource = request.params.get("resource")
        if resource not in ("file", "directory"):
            raise StorageError("InvalidQueryParameterValue", "resource must be 'file' or 'directory'.")
        is_directory = resource == "directory"
        properties = parse_properties(request.headers.get("x-ms-properties"))
        acl = (
            updated_access_control({}, request.headers, is_directory)
            if any(request.headers.get(h) for h in ACL_HEADERS)
            else {}
        )
        if not path:
            root = await self.ns.stat(filesystem, "")
            check_conditions(root, request.headers, exists="PathAlreadyExists")
            if not is_directory:
                raise StorageError("PathConflict", "The filesystem root is a directory.")
            if root is None:
                raise StorageError("FilesystemNotFound")
            return written({"etag": root.etag, "last-modified": root.last_modified})
        system = {} if is_directory else _system_properties(request.headers)
        async with self.ns.locked((filesystem, path)):
            metadata = {**properties, **acl, **system}
            if not is_directory and _creates_new_only(request.headers):
                reply = await self._create_new_file(request, filesystem, path, metadata)
                if reply is not None:
                    return reply
            await self.ns.ensure_parents(filesystem, path)
            existing = await self.ns.stat(filesystem, path)
            check_conditions(existing, request.headers, exists="PathAlreadyExists")
            if existing is not None and existing.is_directory != is_directory:
                raise StorageError(
                    "PathConflict",
                    f"The path exists as a {existing.resource_type}.",
                    headers=existing_type(existing),
                )
            transaction = _transaction(request.headers)
            if is_directory:
                if existing is not None and existing.has_marker:
                    if not metadata:
                        return written({"etag": existing.etag, "last-modified": existing.last_modified})
                    merged = {**existing.metadata, **metadata}
                    response = await self.store.set_metadata(
                        filesystem, path, merged, {"if-match": existing.etag}
                    )
                    return written(response.headers)
                etag = await self.ns.make_marker(filesystem, path, metadata | transaction)
                await self._propose_lease(request, filesystem, path)
                info = await self.ns.stat(filesystem, path)
                return written({"etag": etag, "last-modified": info.last_modified if info else ""})
            headers = {CONTENT_HEADERS[h]: v for h, v in request.headers.items() if h in CONTENT_HEADERS}
            headers |= _lease(request.headers)
            headers |= {"if-match": existing.etag} if existing is not None else {"if-none-match": "*"}
            metadata |= transaction
            response = await self.store.put_empty(filesystem, path, metadata, headers)
            return await self._created_file(request, filesystem, path, response, metadata, headers)

    async def _create_new_file(
        self, request: Request, filesystem: str, path: str, metadata: dict[str, str]
    ) -> Reply | None:
        """Create a file where nothing is, in two Azurite calls; None if something is there (or may be).

        The general path looks the name up first (Get Blob Properties, then List Blobs for an implicit
        directory) and then writes. Here List Blobs alone rules out an implicit directory and
        ``If-None-Match: *`` on the Put Blob rules out a blob; a path that exists goes the general way.
        The caller holds the path's lock.
        """
        if "/" in path:  # (for a top-level path, List Blobs checks that the filesystem exists)
            await self.ns.ensure_parents(filesystem, path)
        if await self.store.any_below(filesystem, path) is not None:
            return None
        headers = {CONTENT_HEADERS[h]: v for h, v in request.headers.items() if h in CONTENT_HEADERS}
        headers |= _lease(request.headers)
        metadata = metadata | _transaction(request.headers)
        new_only = headers | {"if-none-match": "*"}
        try:
            response = await self.store.put_empty(filesystem, path, metadata, new_only)
        except StorageError as error:
            if error.code in ("PathAlreadyExists", "ConditionNotMet"):
                return None
            raise
        return await self._created_file(request, filesystem, path, response, metadata, headers)

    async def _created_file(
        self,
        request: Request,
        filesystem: str,
        path: str,
        response: Answer,
        metadata: dict[str, str],
        headers: Mapping[str, str],
    ) -> Reply:
        """The answer to a file create whose Put Blob succeeded (after taking a proposed lease)."""
        if await self._propose_lease(request, filesystem, path):
            info = await self.ns.stat(filesystem, path)
            return written({"etag": info.etag, "last-modified": info.last_modified} if info else {})
        self.store.remember(filesystem, path, _as_written(response.headers, 0, metadata, headers), [])
        return written(response.headers)

    async def _propose_lease(self, request: Request, filesystem: str, path: str) -> bool:
        """Create with ``x-ms-proposed-lease-id`` (and ``x-ms-lease-duration``) leaves the path leased."""
        proposed = request.headers.get("x-ms-proposed-lease-id")
        if not proposed or request.headers.get("x-ms-lease-action"):
            return False
        duration = request.headers.get("x-ms-lease-duration", "-1")
        await self.store.lease(
            filesystem, path, "acquire", {"x-ms-proposed-lease-id": proposed, "x-ms-lease-duration": duration}
        )
        return True

    async def _lease_action(
        self, request: Request, filesystem: str, path: str
    ) -> tuple[dict[str, str], bool]:
        """Do the first half of ``x-ms-lease-action`` on append/flush.

        Returns the lease header the write must carry and whether to release the lease after it.
        """
        action = request.headers.get("x-ms-lease-action", "").lower()
        lease = _lease(request.headers)
        if not action:
            return lease, False
        if action not in ("acquire", "acquire-release", "auto-renew", "release"):
            raise StorageError("InvalidHeaderValue", f"Unknown x-ms-lease-action {action!r}.")
        if action in ("acquire", "acquire-release"):
            proposed = request.headers.get("x-ms-proposed-lease-id") or str(uuid.uuid4())
            duration = request.headers.get("x-ms-lease-duration", "-1")
            headers = {"x-ms-proposed-lease-id": proposed, "x-ms-lease-duration": duration}
            await self.store.lease(filesystem, path, "acquire", headers)
            return {"x-ms-lease-id": proposed}, action == "acquire-release"
        if not lease:
            raise StorageError("MissingRequiredHeader", "x-ms-lease-action needs x-ms-lease-id.")
        if action == "auto-renew":
            await self.store.lease(filesystem, path, "renew", lease)
            return lease, False
        return lease, True  # release

    # --- append and flush -----------------------------------------------------------------------
    async def append(self, request: Request, filesystem: str, path: str) -> Reply:
        position = _position(request)
        length = request.content_length
        if length is None:
            raise StorageError("MissingRequiredHeader", "Content-Length is required for append.")
        # Appends only stage data, at any position and even for a path that does not exist yet; the flush
        # checks that the staged blocks tile the file and creates it if needed (as the service does).
        # A file this endpoint just wrote needs no lookup (a stale entry can only name a path that has been
        # deleted since, and appending there is allowed too).
        if self.store.known(filesystem, path) is None:
            info = await self.ns.stat(filesystem, path)
            if info is not None and info.is_directory:
                raise StorageError("ResourceTypeMismatch", "Cannot append to a directory.")
        lease, release = await self._lease_action(request, filesystem, path)
        if length:
            headers = dict(lease)
            if request.headers.get("content-md5"):
                headers["content-md5"] = request.headers["content-md5"]
            await self.store.put_block(filesystem, path, block_id(position), request.body(), length, headers)
        reply = Reply(202, {"content-length": "0", "x-ms-request-server-encrypted": "false"})
        if request.params.get("flush", "").lower() == "true":
            # Azure answers an append that also flushes with 202 like any append (the Python SDK insists).
            reply = await self._commit(request, filesystem, path, position + length, status=202, lease=lease)
        if release:
            await self.store.lease(filesystem, path, "release", lease)
        return reply

    async def flush(self, request: Request, filesystem: str, path: str) -> Reply:
        if request.content_length:
            raise StorageError(
                "ContentLengthMustBeZero", "The Content-Length request header must be zero.", 400
            )
        lease, release = await self._lease_action(request, filesystem, path)
        reply = await self._commit(request, filesystem, path, _position(request), status=200, lease=lease)
        if release:
            await self.store.lease(filesystem, path, "release", lease)
        return reply

    async def _commit(
        self,
        request: Request,
        filesystem: str,
        path: str,
        position: int,
        status: int,
        lease: Mapping[str, str] | None = None,
    ) -> Reply:
        own = self._own_blocks_to_commit(request, filesystem, path, position)
        if own is not None:
            try:
                return await self._put_blocks(request, filesystem, path, position, status, lease, *own)
            except StorageError as error:
                if error.code not in ("ConditionNotMet", "InvalidBlockList"):
                    raise
                # Written or its blocks discarded behind the endpoint's back: look it all up. (Deleted:
                # Azurite's 404 is already the answer the lookup would give.)
        blob, committed, chain = await self._blocks_to_commit(request, filesystem, path, position)
        return await self._put_blocks(
            request, filesystem, path, position, status, lease, blob, committed, chain
        )

    def _own_blocks_to_commit(
        self, request: Request, filesystem: str, path: str, position: int
    ) -> tuple[BlobProperties, list[tuple[str, int]], list[tuple[str, int]]] | None:
        """(file, committed blocks, blocks to add) from this endpoint's own writes alone, without a lookup.

        Only a file the endpoint wrote last, a flush with no conditions of its own, and staged blocks that
        tile the file up to ``position``. The Put Block List that follows carries ``If-Match`` with the ETag
        of that write, so a file changed since is refused and the flush takes the general way.
        """
        if any(request.headers.get(name) for name in CONDITIONS):
            return None
        own = self.store.own_blocks(filesystem, path)
        if own is None:
            return None
        chain = _chain(own.staged, sum(size for _, size in own.committed), position)
        return None if chain is None else (own.properties, own.committed, chain)

    async def _blocks_to_commit(
        self, request: Request, filesystem: str, path: str, position: int
    ) -> tuple[BlobProperties | None, list[tuple[str, int]], list[tuple[str, int]]]:
        """(file or None, committed blocks, blocks to add), looked up in Azurite and checked."""
        blob: BlobProperties | None = None
        blocks = None
        known = self.store.known(filesystem, path)
        if known is not None:
            # The file as this endpoint last wrote it; the block list's ETag tells whether it still is.
            blocks = await self.store.block_list(filesystem, path)
            if blocks.etag == known.etag:
                blob = known
            else:
                blocks = None
        if blocks is None:
            blob = await self.store.properties(filesystem, path)
        if blob is not None and blob.is_directory:
            raise StorageError("ResourceTypeMismatch", "Cannot flush a directory.")
        info = None
        if blob is not None:
            info = PathInfo(
                path, False, blob.etag, blob.last_modified, blob.content_length, blob.metadata, True
            )
        check_conditions(info, request.headers, exists="PathAlreadyExists")
        if blocks is None:
            blocks = await self.store.block_list(filesystem, path)
        committed_length = sum(size for _, size in blocks.committed)
        if committed_length != (blob.content_length if blob else 0):
            raise StorageError("InvalidFlushOperation")
        staged = {}
        for block, size in blocks.uncommitted:
            at = block_position(block)
            if at is not None:
                staged[at] = (block, size)
        chain = _chain(staged, committed_length, position)
        if chain is None:
            raise StorageError("InvalidFlushPosition")
        return blob, blocks.committed, chain

    async def _put_blocks(
        self,
        request: Request,
        filesystem: str,
        path: str,
        position: int,
        status: int,
        lease: Mapping[str, str] | None,
        blob: BlobProperties | None,
        committed: list[tuple[str, int]],
        chain: list[tuple[str, int]],
    ) -> Reply:
        """Commit ``chain`` after ``committed`` (Put Block List), keeping the file's headers and metadata."""
        overrides = {CONTENT_HEADERS[h]: v for h, v in request.headers.items() if h in CONTENT_HEADERS}
        if blob is not None and not chain and not overrides:
            return written({"etag": blob.etag, "last-modified": blob.last_modified}, status)
        headers = overrides | dict(_lease(request.headers) if lease is None else lease)
        if blob is None:
            # The first flush of data appended to a new path creates the file (and its parents).
            await self.ns.ensure_parents(filesystem, path)
            headers["if-none-match"] = "*"
        else:
            stored = blob.headers.items()
            headers = {
                STORED_CONTENT_HEADERS[h]: v for h, v in stored if h in STORED_CONTENT_HEADERS
            } | headers
            headers["if-match"] = blob.etag
            headers |= {f"x-ms-meta-{k}": v for k, v in blob.metadata.items()}
        response = await self.store.put_block_list(
            filesystem, path, [b for b, _ in committed], [b for b, _ in chain], headers
        )
        metadata = blob.metadata if blob is not None else {}
        properties = _as_written(response.headers, position, metadata, headers)
        self.store.remember(filesystem, path, properties, [*committed, *chain])
        return written(response.headers, status)

    # --- properties and access control --------------------------------------------------------------
    async def set_properties(self, request: Request, filesystem: str, path: str) -> Reply:
        info = await self.ns.require(filesystem, path)
        check_conditions(info, request.headers)
        response_headers: Mapping[str, str] = {"etag": info.etag, "last-modified": info.last_modified}
        if "x-ms-properties" in request.headers:
            metadata = {
                **reserved_metadata(info.metadata),
                **parse_properties(request.headers["x-ms-properties"]),
            }
            response_headers = await self._write_metadata(filesystem, info, metadata)
        overrides = {CONTENT_HEADERS[h]: v for h, v in request.headers.items() if h in CONTENT_HEADERS}
        if overrides and path:
            blob = await self.store.properties(filesystem, path)
            if blob is None:
                raise StorageError("PathNotFound")
            stored = {
                STORED_CONTENT_HEADERS[h]: v for h, v in blob.headers.items() if h in STORED_CONTENT_HEADERS
            }
            response_headers = (
                await self.store.set_http_headers(filesystem, path, stored | overrides)
            ).headers
        return written(response_headers, 200)

    async def set_access_control(self, request: Request, filesystem: str, path: str) -> Reply:
        info = await self.ns.require(filesystem, path)
        check_conditions(info, request.headers)
        metadata = {
            **info.metadata,
            **updated_access_control(info.metadata, request.headers, info.is_directory),
        }
        return written(await self._write_metadata(filesystem, info, metadata), 200)

    async def _write_metadata(
        self, filesystem: str, info: PathInfo, metadata: dict[str, str]
    ) -> Mapping[str, str]:
        """Replace the metadata of a path (the root's lives on its container); returns the new ETag."""
        if not info.path:
            query = [("restype", "container"), ("comp", "metadata")]
            headers = {f"x-ms-meta-{k}": v for k, v in metadata.items()}
            response = await self.store.call("PUT", filesystem, query=query, headers=headers)
            raise_for(response)
            return response.headers
        if not info.has_marker:  # an implicit directory gets its marker now
            etag = await self.ns.make_marker(filesystem, info.path, metadata)
            return {"etag": etag}
        response = await self.store.set_metadata(filesystem, info.path, metadata, {"if-match": info.etag})
        return response.headers

    async def set_expiry(self, request: Request, filesystem: str, path: str) -> Reply:
        """Set Expiry (``PUT ?comp=expiry``): the expiry is kept with the file and reported, not enforced."""
        blob = await self.store.properties(filesystem, path)
        if blob is None:
            raise StorageError("PathNotFound")
        if blob.is_directory:
            raise StorageError("ResourceTypeMismatch", "Only files have an expiry time.")
        created = blob.headers.get("x-ms-creation-time")
        created_ms = int(parsedate_to_datetime(created).timestamp() * 1000) if created else None
        expiry = expiry_ms(request.headers, created_ms)
        if expiry is None:
            raise StorageError("MissingRequiredHeader", "x-ms-expiry-option is required.")
        metadata = {k: v for k, v in blob.metadata.items() if k.lower() != EXPIRY_KEY}
        if expiry:
            metadata[EXPIRY_KEY] = str(expiry)
        headers = {"if-match": blob.etag} | _lease(request.headers)
        response = await self.store.set_metadata(filesystem, path, metadata, headers)
        return written(response.headers, 200)

    # --- delete ---------------------------------------------------------------------------------
    async def delete(self, request: Request, filesystem: str, path: str) -> Reply:
        recursive = request.params.get("recursive", "").lower() == "true"
        if not path:
            raise StorageError(
                "InvalidUri", "The filesystem root cannot be deleted; delete the filesystem instead."
            )
        async with self.ns.locked((filesystem, path)):
            info = await self.ns.require(filesystem, path)
            check_conditions(info, request.headers)
            if not info.is_directory:
                await self.store.delete(filesystem, path, _lease(request.headers))
                return Reply(200, {"content-length": "0"})
            page = await self.store.list_blobs(filesystem, path + "/", None, "", self.delete_batch)
            if page.blobs and not recursive:
                raise StorageError("DirectoryNotEmpty")
            self.ns.forget_tree(filesystem, path)
            await gather_limited(self._delete_quietly(filesystem, blob.name) for blob in page.blobs)
            if page.next_marker:
                # More remains: the client repeats the call with the token (the listing restarts anyway).
                return Reply(200, {"content-length": "0", "x-ms-continuation": page.next_marker})
            if info.has_marker:
                await self._delete_quietly(filesystem, path)
        return Reply(200, {"content-length": "0"})

    async def _delete_quietly(
        self, filesystem: str, path: str, headers: Mapping[str, str] | None = None
    ) -> None:
        try:
            await self.store.delete(filesystem, path, headers)
        except StorageError as error:
            if error.status != 404:
                raise

    # --- rename ---------------------------------------------------------------------------------
    async def rename(self, request: Request, filesystem: str, path: str, source: tuple[str, str]) -> Reply:
        """Path Create with ``x-ms-rename-source``, as a namespace-enabled account answers it.

        ``mode=posix`` (the default, and what the ABFS driver gets) moves the source *into* a destination that
        is an existing directory, like ``mv``; ``mode=legacy`` (what the DataLake SDKs send) takes the
        destination name as given. The conditional headers then apply to that final destination. An existing
        file is overwritten by a file, an existing empty directory replaced by a directory; a non-empty
        directory is DirectoryNotEmpty and a file against a directory (or the reverse)
        InvalidSourceOrDestinationResourceType.
        """
        source_fs, source_path = source
        mode = request.params.get("mode", "posix").lower()
        if mode not in ("posix", "legacy"):
            raise StorageError("InvalidQueryParameterValue", "mode must be 'legacy' or 'posix'.")
        if source_fs == filesystem and path != source_path and is_within(path, source_path):
            raise StorageError("InvalidRenameSourcePath")
        if not path and mode == "legacy":
            raise StorageError("InvalidDestinationPath", "The destination must be a path.", status=400)
        resolves = mode == "posix" and (source_fs, source_path) != (filesystem, path)
        # Whether the source moves into the directory ``path`` names. Guess not (the common case, one lookup
        # of ``path``); the lookup under the locks tells, and a wrong guess locks the right names and looks
        # again.
        into = False
        for _ in range(3):
            destination = join_path(path, source_path.rpartition("/")[2]) if into else path
            keys = ((source_fs, source_path), (filesystem, path), (filesystem, destination))
            async with self.ns.locked(*keys):
                named = await self.ns.stat(filesystem, path) if resolves else None
                if resolves and (named is not None and named.is_directory) != into:
                    into = not into
                    continue
                dst = named if resolves and not into else await self.ns.stat(filesystem, destination)
                return await self._rename_locked(request, source, filesystem, destination, dst)
        raise StorageError("ServerBusy", "The destination kept changing during the rename; retry it.")

    async def _rename_locked(
        self, request: Request, source: tuple[str, str], filesystem: str, path: str, dst: PathInfo | None
    ) -> Reply:
        """The rename of ``source`` to exactly ``path`` (currently ``dst``), under the locks of both."""
        source_fs, source_path = source
        src = await self.ns.stat(source_fs, source_path)
        if src is None:
            raise StorageError("SourcePathNotFound")
        check_conditions(src, request.headers, prefix="x-ms-source-", failed="SourceConditionNotMet")
        same_filesystem = source_fs == filesystem
        if same_filesystem and path == source_path:
            check_conditions(src, request.headers, exists="PathAlreadyExists")
            return written({"etag": src.etag, "last-modified": src.last_modified})
        if same_filesystem and src.is_directory and is_within(path, source_path):
            raise StorageError("InvalidRenameSourcePath")
        parent = parent_of(path)
        if not parent:
            await self.store.container_properties(filesystem)
        elif not self.ns.knows_directory(filesystem, parent):  # (as for a create, a known one is trusted)
            parent_info = await self.ns.stat(filesystem, parent)
            if parent_info is None or not parent_info.is_directory:
                raise StorageError("RenameDestinationParentPathNotFound")
        check_conditions(dst, request.headers, exists="PathAlreadyExists")
        if dst is not None and dst.is_directory != src.is_directory:
            raise StorageError("InvalidSourceOrDestinationResourceType", headers=existing_type(dst))
        transaction = _transaction(request.headers)
        # A source under lease (pyarrow leases what it moves) is removed with the lease id sent for it.
        source_lease = _lease({"x-ms-lease-id": request.headers.get("x-ms-source-lease-id", "")})
        if src.is_directory:
            if dst is not None:
                await self._remove_empty_directory(filesystem, dst)
            await self._move_directory(src, source_fs, filesystem, path, transaction, source_lease)
            # Azure's answer names the moved directory's ETag (the C++ SDK reads it unconditionally).
            moved = await self.ns.stat(filesystem, path)
            return written({"etag": moved.etag, "last-modified": moved.last_modified} if moved else {})
        response = await self._move_file(src, source_fs, filesystem, path, dst, transaction, source_lease)
        return written(response.headers)

    async def _remove_empty_directory(self, filesystem: str, directory: PathInfo) -> None:
        """Make way for a directory renamed onto ``directory``, which must be empty."""
        if await self.store.any_below(filesystem, directory.path) is not None:
            raise StorageError("DirectoryNotEmpty")
        self.ns.forget_tree(filesystem, directory.path)
        if directory.has_marker:
            await self.store.delete(filesystem, directory.path, {"if-match": directory.etag})

    async def _move_file(
        self,
        src: PathInfo,
        source_fs: str,
        filesystem: str,
        path: str,
        dst: PathInfo | None,
        transaction: dict[str, str],
        source_lease: Mapping[str, str],
    ) -> Answer:
        guard = {"if-match": dst.etag} if dst is not None else {"if-none-match": "*"}
        headers = guard | {"x-ms-source-if-match": src.etag}
        if transaction:  # metadata given to Copy Blob replaces the source's: send all of it
            headers |= metadata_headers({**src.metadata, **transaction})
        try:
            response = await self.store.copy(source_fs, src.path, filesystem, path, headers)
        except StorageError as error:
            if dst is None and error.code in ("PathAlreadyExists", "ConditionNotMet"):
                lost = {"x-ms-existing-resource-type": "file"}  # another rename got there first
                raise StorageError("PathAlreadyExists", headers=lost) from error
            raise
        await self._delete_quietly(source_fs, src.path, source_lease)
        return response

    async def _move_directory(
        self,
        src: PathInfo,
        source_fs: str,
        filesystem: str,
        path: str,
        transaction: dict[str, str],
        source_lease: Mapping[str, str],
    ) -> None:
        if src.has_marker:
            headers = {"if-none-match": "*"}
            if transaction:
                headers |= metadata_headers({**src.metadata, **transaction})
            await self.store.copy(source_fs, src.path, filesystem, path, headers)
        else:
            await self.ns.make_marker(filesystem, path, transaction)
        self.ns.remember_directory(filesystem, path)
        moved: list[str] = []
        marker = ""
        while True:
            page = await self.store.list_blobs(source_fs, src.path + "/", None, marker, 5000)
            names = [blob.name for blob in page.blobs]
            await gather_limited(
                self.store.copy(source_fs, name, filesystem, path + name[len(src.path) :]) for name in names
            )
            moved += names
            marker = page.next_marker
            if not marker:
                break
        self.ns.forget_tree(source_fs, src.path)
        await gather_limited(self._delete_quietly(source_fs, name) for name in moved)
        if src.has_marker:
            await self._delete_quietly(source_fs, src.path, source_lease)
