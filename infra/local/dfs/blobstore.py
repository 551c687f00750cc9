"""The Azurite side: a pooled ``aiohttp.ClientSession`` speaking the Blob API, each request Shared-Key signed.

Azurite holds all state. The DFS layer stores a directory as a zero-length block blob with metadata
``hdi_isfolder=true`` and a file as a block blob, the layout real ADLS Gen2 shows to Blob clients.
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import quote, unquote
from xml.etree import ElementTree

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from infra.local.dfs.auth import sign_for_azurite
from infra.local.dfs.counting import CallCounter
from infra.local.dfs.errors import StorageError
from infra.local.dfs.paths import quote_path

API_VERSION = "2021-12-02"
FOLDER_KEY = "hdi_isfolder"
# Metadata the DFS layer keeps for itself (ACLs); hidden from Blob responses and from x-ms-properties.
ACL_KEYS = ("dfs_owner", "dfs_group", "dfs_permissions", "dfs_acl")
# The x-ms-client-transaction-id of the create or rename that made the path (the ABFS driver reads it back to
# tell its own retried request from someone else's).
TRANSACTION_KEY = "dfs_transaction_id"
# A file's expiry (epoch milliseconds) and encryption context, which Azure keeps as system properties.
EXPIRY_KEY = "dfs_expiry_ms"
ENCRYPTION_CONTEXT_KEY = "dfs_encryption_context"
# Metadata the endpoint keeps for itself: never shown to Blob clients or in x-ms-properties.
PRIVATE_KEYS = (*ACL_KEYS, TRANSACTION_KEY, EXPIRY_KEY, ENCRYPTION_CONTEXT_KEY)
RESERVED_KEYS = frozenset((FOLDER_KEY, *PRIVATE_KEYS))
_META_PREFIX = "x-ms-meta-"
# Files this endpoint wrote last (see BlobStore.remember); cleared whole when it grows past this.
MAX_KNOWN_FILES = 10_000
_BLOCK_PREFIX = b"dfs-"
# Azurite's error codes that have their own name in the DFS API.
_DFS_CODES = {
    "ContainerNotFound": "FilesystemNotFound",
    "ContainerAlreadyExists": "FilesystemAlreadyExists",
    "ContainerBeingDeleted": "FilesystemBeingDeleted",
    "BlobAlreadyExists": "PathAlreadyExists",
    "BlobNotFound": "PathNotFound",
}


def block_id(position: int) -> str:
    """The id of the block appended at ``position`` (all ids of a blob have the same length)."""
    return base64.b64encode(_BLOCK_PREFIX + b"%020d" % position).decode()


def block_position(block: str) -> int | None:
    try:
        raw = base64.b64decode(block)
    except ValueError:
        return None
    if not raw.startswith(_BLOCK_PREFIX) or not raw[len(_BLOCK_PREFIX) :].isdigit():
        return None
    return int(raw[len(_BLOCK_PREFIX) :])


def http_date(moment: datetime | None = None) -> str:
    return format_datetime(moment or datetime.now(UTC), usegmt=True)


def metadata_from(raw_headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """User metadata (``x-ms-meta-*``) of a response, names as stored."""
    found = {}
    for name, value in raw_headers:
        text = name.decode("latin-1")
        if text.lower().startswith(_META_PREFIX):
            found[text[len(_META_PREFIX) :]] = value.decode("latin-1")
    return found


def metadata_headers(metadata: Mapping[str, str]) -> dict[str, str]:
    return {f"{_META_PREFIX}{name}": value for name, value in metadata.items()}


def is_folder(metadata: Mapping[str, str]) -> bool:
    return any(k.lower() == FOLDER_KEY and v.lower() == "true" for k, v in metadata.items())


@dataclass(frozen=True)
class BlobProperties:
    """What a Get Blob Properties answered."""

    etag: str  # quoted, as in the ETag header
    last_modified: str
    content_length: int
    metadata: dict[str, str]
    headers: Mapping[str, str]  # case-insensitive

    @property
    def is_directory(self) -> bool:
        return is_folder(self.metadata)


@dataclass
class KnownFile:
    """A file as this endpoint's own last write left it: its properties, its committed blocks as (id, size)
    and the blocks this endpoint staged on it since, by position."""

    properties: BlobProperties
    committed: list[tuple[str, int]]
    staged: dict[int, tuple[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class BlockList:
    """What a Get Block List answered: blocks as (id, size), and the ETag of the committed blob."""

    committed: list[tuple[str, int]]
    uncommitted: list[tuple[str, int]]
    etag: str


@dataclass(frozen=True)
class BlobItem:
    """One blob of a listing."""

    name: str
    etag: str
    last_modified: str
    creation_time: str
    content_length: int
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def is_directory(self) -> bool:
        return is_folder(self.metadata)


@dataclass(frozen=True)
class BlobPage:
    """A page of List Blobs: blobs and (with a delimiter) prefixes, in name order, and the next marker."""

    blobs: list[BlobItem]
    prefixes: list[str]
    next_marker: str


@dataclass
class Call:
    """One signed Blob API request to Azurite, built by :meth:`BlobStore.build`."""

    method: str
    url_path: str  # percent-encoded, as signed
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names; the authorization may still be dropped (anonymous reads)
    content: bytes | AsyncIterator[bytes] | None
    target: str  # url_path and the encoded query

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)


class Answer:
    """Azurite's answer: status, headers and the body, read whole or (``stream=True``) still to come."""

    def __init__(self, response: aiohttp.ClientResponse, content: bytes = b"") -> None:
        self._response = response
        self.status_code = response.status
        # Names lower-cased (as the DFS layer writes them), looked up in any case.
        self.headers = CIMultiDictProxy(CIMultiDict((k.lower(), v) for k, v in response.headers.items()))
        self.raw_headers: tuple[tuple[bytes, bytes], ...] = response.raw_headers
        self.content = content

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        """The body as it arrives (never decoded: the session does not decompress)."""
        async for chunk in self._response.content.iter_any():
            yield chunk

    async def aread(self) -> bytes:
        self.content = await self._response.read()
        return self.content

    async def aclose(self) -> None:
        self._response.release()  # back to the pool, or closed if the body was not read to the end


def session_for_azurite(connections: int = 64) -> aiohttp.ClientSession:
    """The session every Azurite call goes through: pooled keep-alive connections, nothing added to what
    was signed (no default Content-Type, Accept or User-Agent), bodies relayed as they are."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            limit=connections,
            # Azurite (Node) closes idle connections after 5 s; give ours up well before that.
            keepalive_timeout=2.0,
        ),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=10.0, sock_read=120.0),
        auto_decompress=False,
        skip_auto_headers=("Content-Type", "Accept", "Accept-Encoding", "User-Agent"),
        read_bufsize=2 * 1024 * 1024,  # large downloads relay in big chunks, few loop turns
        trust_env=False,
    )


def raise_for(response: Answer, not_found: str = "PathNotFound") -> None:
    """Turn an Azurite error answer into the matching :class:`StorageError`."""
    if response.status_code < 400:
        return
    code = response.headers.get("x-ms-error-code") or _code_from_body(response)
    if code == "BlobNotFound":
        code = not_found
    code = _DFS_CODES.get(code, code)
    message = None if code in _DFS_CODES.values() else _message_from_body(response)
    raise StorageError(code or "InternalError", message, status=response.status_code)


def _code_from_body(response: Answer) -> str:
    match = re.search(rb"<Code>([^<]+)</Code>", response.content or b"")
    return match.group(1).decode() if match else ""


def _message_from_body(response: Answer) -> str | None:
    match = re.search(rb"<Message>([^<]*)</Message>", response.content or b"")
    return match.group(1).decode().split("\n")[0] if match else None


class BlobStore:
    """Blob API calls against Azurite for one account."""

    def __init__(self, base_url: str, account: str, key: bytes, client: aiohttp.ClientSession) -> None:
        self.base_url = base_url.rstrip("/")
        self.account = account
        self.key = key
        self.client = client
        self.counter: CallCounter | None = None  # set by ``--count-calls``
        # URL path -> a file as this endpoint's own last write left it. Every write sent to a path forgets
        # it (before and after the call; a staged block is no write), so an entry only lives while nothing
        # else wrote there through this endpoint; users of an entry still make Azurite check its ETag.
        self._known_files: dict[str, KnownFile] = {}

    async def send(self, request: Call, stream: bool = False) -> Answer:
        """Send a request built by :meth:`build` (every Azurite call goes through here)."""
        if self.counter is not None:
            self.counter.blob_call(request.method, request.query)
        if request.method in ("GET", "HEAD") or request.param("comp") == "block":
            return await self._send(request, stream)  # Put Block changes no property
        self._forget_written(request)
        try:
            return await self._send(request, stream)
        finally:
            self._forget_written(request)

    async def _send(self, request: Call, stream: bool) -> Answer:
        response = await self.client.request(
            request.method,
            URL(self.base_url + request.target, encoded=True),  # sent as signed, not re-quoted
            headers=request.headers,
            data=request.content,
            allow_redirects=False,
        )
        if stream:
            return Answer(response)
        try:
            return Answer(response, await response.read())
        finally:
            response.release()

    # --- files the endpoint wrote itself ---------------------------------------------------------
    def _key(self, filesystem: str, path: str) -> str:
        return unquote(self.url_path(filesystem, path))  # as _forget_written() sees it

    def remember(
        self, filesystem: str, path: str, properties: BlobProperties, blocks: list[tuple[str, int]]
    ) -> None:
        """Keep what a write of this endpoint just made of a file, with its committed blocks as (id, size)
        (saves the lookups before its next append and flush)."""
        if len(self._known_files) >= MAX_KNOWN_FILES:
            self._known_files.clear()
        self._known_files[self._key(filesystem, path)] = KnownFile(properties, list(blocks))

    def known(self, filesystem: str, path: str) -> BlobProperties | None:
        """The file as this endpoint last wrote it, if nothing was written there since (check the ETag)."""
        entry = self._known_files.get(self._key(filesystem, path))
        return entry.properties if entry is not None else None

    def own_blocks(self, filesystem: str, path: str) -> KnownFile | None:
        """The file as this endpoint last wrote it, its committed blocks and the blocks it staged since."""
        return self._known_files.get(self._key(filesystem, path))

    def _forget_written(self, request: Call) -> None:
        key = unquote(request.url_path)
        self._known_files.pop(key, None)
        if request.method == "DELETE" and request.param("restype") == "container":
            below = key.rstrip("/") + "/"
            for name in [k for k in self._known_files if k.startswith(below)]:
                del self._known_files[name]

    # --- plumbing -----------------------------------------------------------------------------
    def url_path(self, filesystem: str | None = None, path: str = "") -> str:
        parts = f"/{self.account}"
        if filesystem is not None:
            parts += "/" + quote(filesystem, safe="$")
            if path:
                parts += "/" + quote_path(path)
        return parts

    def build(
        self,
        method: str,
        url_path: str,
        query: Iterable[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
        content: bytes | AsyncIterator[bytes] | None = None,
    ) -> Call:
        """A signed request; ``headers`` must use lower-case names."""
        query = list(query)
        sent = {k: v for k, v in (headers or {}).items() if v is not None}
        sent.setdefault("x-ms-version", API_VERSION)
        sent["x-ms-date"] = http_date()
        if isinstance(content, bytes):
            sent["content-length"] = str(len(content))
        elif content is None and method in ("PUT", "POST"):
            sent["content-length"] = "0"
            content = b""
        sent["authorization"] = sign_for_azurite(self.key, self.account, method, url_path, query, sent)
        target = url_path
        if query:
            target += "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)
        return Call(method, url_path, query, sent, content, target)

    async def call(
        self,
        method: str,
        filesystem: str | None = None,
        path: str = "",
        query: Iterable[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> Answer:
        """A small request whose answer is read whole."""
        request = self.build(method, self.url_path(filesystem, path), query, headers, content)
        return await self.send(request)

    # --- blobs --------------------------------------------------------------------------------
    async def properties(self, filesystem: str, path: str) -> BlobProperties | None:
        """Properties of a blob, or None if it does not exist (a missing container raises)."""
        response = await self.call("HEAD", filesystem, path)
        if response.status_code == 404:
            if response.headers.get("x-ms-error-code") == "ContainerNotFound":
                raise StorageError("FilesystemNotFound")
            return None
        raise_for(response)
        return BlobProperties(
            etag=response.headers.get("etag", ""),
            last_modified=response.headers.get("last-modified", ""),
            content_length=int(response.headers.get("content-length", "0")),
            metadata=metadata_from(response.raw_headers),
            headers=response.headers,
        )

    async def put_empty(
        self,
        filesystem: str,
        path: str,
        metadata: Mapping[str, str],
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """Put Blob with no content (a new file, or a directory marker)."""
        sent = {"x-ms-blob-type": "BlockBlob", **metadata_headers(metadata), **(headers or {})}
        response = await self.call("PUT", filesystem, path, headers=sent, content=b"")
        raise_for(response)
        return response

    async def put_block(
        self,
        filesystem: str,
        path: str,
        block: str,
        body: AsyncIterator[bytes],
        length: int,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        sent = {"content-length": str(length), **(headers or {})}
        request = self.build(
            "PUT", self.url_path(filesystem, path), [("comp", "block"), ("blockid", block)], sent, body
        )
        response = await self.send(request)
        raise_for(response)
        entry = self._known_files.get(self._key(filesystem, path))
        position = block_position(block)
        if entry is not None and position is not None:
            entry.staged[position] = (block, length)

    async def block_list(self, filesystem: str, path: str) -> BlockList:
        """Get Block List: committed and uncommitted blocks, and the blob's ETag."""
        response = await self.call("GET", filesystem, path, [("comp", "blocklist"), ("blocklisttype", "all")])
        raise_for(response)
        root = ElementTree.fromstring(response.content)

        def blocks(section: str) -> list[tuple[str, int]]:
            return [
                (b.findtext("Name", ""), int(b.findtext("Size", "0")))
                for b in root.findall(f"{section}/Block")
            ]

        etag = response.headers.get("etag", "")
        return BlockList(blocks("CommittedBlocks"), blocks("UncommittedBlocks"), etag)

    async def put_block_list(
        self,
        filesystem: str,
        path: str,
        committed: list[str],
        uncommitted: list[str],
        headers: Mapping[str, str],
    ) -> Answer:
        body = "".join(f"<Committed>{b}</Committed>" for b in committed)
        body += "".join(f"<Uncommitted>{b}</Uncommitted>" for b in uncommitted)
        xml = f'<?xml version="1.0" encoding="utf-8"?><BlockList>{body}</BlockList>'.encode()
        response = await self.call("PUT", filesystem, path, [("comp", "blocklist")], headers, xml)
        raise_for(response)
        return response

    async def set_metadata(
        self,
        filesystem: str,
        path: str,
        metadata: Mapping[str, str],
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        sent = {**metadata_headers(metadata), **(headers or {})}
        response = await self.call("PUT", filesystem, path, [("comp", "metadata")], sent)
        raise_for(response)
        return response

    async def set_http_headers(self, filesystem: str, path: str, headers: Mapping[str, str]) -> Answer:
        response = await self.call("PUT", filesystem, path, [("comp", "properties")], headers)
        raise_for(response)
        return response

    async def copy(
        self,
        source_filesystem: str,
        source: str,
        filesystem: str,
        destination: str,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """Copy Blob inside the account (Azurite completes it synchronously)."""
        source_url = self.base_url + self.url_path(source_filesystem, source)
        sent = {"x-ms-copy-source": source_url, **(headers or {})}
        response = await self.call("PUT", filesystem, destination, headers=sent)
        if (
            response.status_code == 404
            and response.headers.get("x-ms-error-code") == "CannotVerifyCopySource"
        ):
            raise StorageError("SourcePathNotFound")
        raise_for(response)
        return response

    async def lease(self, filesystem: str, path: str, action: str, headers: Mapping[str, str]) -> Answer:
        """Lease Blob: ``action`` is acquire, renew, release, break or change."""
        sent = {"x-ms-lease-action": action, **headers}
        response = await self.call("PUT", filesystem, path, [("comp", "lease")], sent)
        raise_for(response)
        return response

    async def delete(self, filesystem: str, path: str, headers: Mapping[str, str] | None = None) -> Answer:
        response = await self.call("DELETE", filesystem, path, headers=headers)
        raise_for(response)
        return response

    async def list_blobs(
        self, filesystem: str, prefix: str, delimiter: str | None, marker: str, max_results: int
    ) -> BlobPage:
        query = [("restype", "container"), ("comp", "list"), ("include", "metadata")]
        query.append(("maxresults", str(max_results)))
        if prefix:
            query.append(("prefix", prefix))
        if delimiter:
            query.append(("delimiter", delimiter))
        if marker:
            query.append(("marker", marker))
        response = await self.call("GET", filesystem, query=query)
        raise_for(response, not_found="FilesystemNotFound")
        root = ElementTree.fromstring(response.content)
        blobs = []
        for blob in root.iterfind("Blobs/Blob"):
            props = blob.find("Properties")
            meta = blob.find("Metadata")
            blobs.append(
                BlobItem(
                    name=blob.findtext("Name", ""),
                    etag=props.findtext("Etag", "") if props is not None else "",
                    last_modified=props.findtext("Last-Modified", "") if props is not None else "",
                    creation_time=props.findtext("Creation-Time", "") if props is not None else "",
                    content_length=int(props.findtext("Content-Length", "0") or 0)
                    if props is not None
                    else 0,
                    metadata={m.tag: m.text or "" for m in meta} if meta is not None else {},
                )
            )
        prefixes = [p.findtext("Name", "") for p in root.iterfind("Blobs/BlobPrefix")]
        return BlobPage(blobs, prefixes, root.findtext("NextMarker", "") or "")

    async def any_below(self, filesystem: str, path: str) -> BlobItem | None:
        """The first blob whose name starts with ``path/`` (proof of an implicit directory), if any."""
        page = await self.list_blobs(filesystem, path + "/" if path else "", None, "", 1)
        return page.blobs[0] if page.blobs else None

    # --- containers ---------------------------------------------------------------------------
    async def container_properties(self, filesystem: str) -> BlobProperties:
        response = await self.call("HEAD", filesystem, query=[("restype", "container")])
        raise_for(response, not_found="FilesystemNotFound")
        if response.status_code == 404:
            raise StorageError("FilesystemNotFound")
        return BlobProperties(
            etag=response.headers.get("etag", ""),
            last_modified=response.headers.get("last-modified", ""),
            content_length=0,
            metadata=metadata_from(response.raw_headers),
            headers=response.headers,
        )

    async def list_containers(self, prefix: str, marker: str, max_results: int) -> tuple[list[dict], str]:
        query = [("comp", "list"), ("maxresults", str(max_results))]
        if prefix:
            query.append(("prefix", prefix))
        if marker:
            query.append(("marker", marker))
        response = await self.call("GET", None, query=query)
        raise_for(response)
        root = ElementTree.fromstring(response.content)
        containers = [
            {
                "name": c.findtext("Name", ""),
                "lastModified": c.findtext("Properties/Last-Modified", ""),
                "etag": c.findtext("Properties/Etag", "").strip('"'),
            }
            for c in root.iterfind("Containers/Container")
        ]
        return containers, root.findtext("NextMarker", "") or ""
