"""The ASGI app: a DFS (ADLS Gen2) endpoint in front of Azurite's Blob API.

Every request is authenticated (Shared Key or SAS, see :mod:`infra.local.dfs.auth`), then either

* answered as a DFS operation (filesystems, paths, listing, rename, ...) built from Blob calls, or
* forwarded to Azurite as a Blob API request (the DataLake SDK sends some of those: download, container
  create, properties), streamed both ways and re-signed with the account key.

Reads and status lookups of a path are forwarded too, with the DFS headers (``x-ms-resource-type``,
``x-ms-owner``, ...) added, so the same answer serves Blob and DFS clients.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote
from xml.etree import ElementTree

import aiohttp

from infra.local.dfs.asgi import Receive, Request, Scope, Send, respond, respond_stream
from infra.local.dfs.auth import SAS_PARAMETERS, Authenticator, Grant, SignedRequest
from infra.local.dfs.blobstore import (
    API_VERSION,
    FOLDER_KEY,
    PRIVATE_KEYS,
    TRANSACTION_KEY,
    Answer,
    BlobStore,
    http_date,
    is_folder,
    metadata_from,
    raise_for,
    session_for_azurite,
)
from infra.local.dfs.counting import CallCounter, operation_name
from infra.local.dfs.errors import StorageError, error_response
from infra.local.dfs.listing import list_filesystems, list_paths
from infra.local.dfs.namespace import (
    Namespace,
    access_control,
    format_properties,
    parse_properties,
    reserved_metadata,
)
from infra.local.dfs.operations import (
    CONDITIONS,
    PathOperations,
    Reply,
    check_conditions,
    system_properties,
    written,
)
from infra.local.dfs.paths import Target, parse_rename_source, parse_target
from infra.settings import Settings

log = logging.getLogger("infra.local.dfs")
access_log = logging.getLogger("infra.local.dfs.access")

# Headers that describe one hop, never forwarded.
HOP_HEADERS = frozenset(
    [
        "host",
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
        "authorization",
        "content-length",
        "x-http-method-override",
        "accept-encoding",
        "date",
        "x-ms-date",
    ]
)
_HIDDEN_META = tuple(f"x-ms-meta-{k}" for k in PRIVATE_KEYS)
LOGS_CONTAINER = "$logs"
_SYSTEM_CONTAINER = re.compile(rb"<Container><Name>\$logs</Name>.*?</Container>", re.DOTALL)
HTTP_VERBS = frozenset(["GET", "HEAD", "PUT", "PATCH", "DELETE", "POST", "OPTIONS"])
# Query parameters only the DFS API has on a path (GET/HEAD/DELETE), and the clients that speak DFS.
_DFS_PARAMETERS = ("action", "upn", "recursive", "continuation", "paginated", "resource")
# Python: azsdk-python-storage-dfs; JS, Java, .NET, C++, Go name "datalake"; Hadoop: Azure Blob FS.
_DFS_AGENTS = re.compile(r"storage-dfs|datalake|Azure Blob FS", re.IGNORECASE)
# (account SAS resource type, account SAS permissions, service SAS permissions or None if never allowed)
Need = tuple[str, str, str | None]


class DfsApp:
    """ASGI application serving the DFS API for one storage account."""

    def __init__(self, settings: Settings, delete_batch: int = 5000, count_calls: bool = False) -> None:
        if settings.storage_key is None:
            raise ValueError("the DFS endpoint needs LAKEHOUSE_STORAGE_KEY (Azurite's key locally)")
        self.account = settings.storage_account
        self.blob_url = f"http://{settings.blob_host or settings.host}:{settings.blob_port}"
        self.auth = Authenticator(self.account, settings.storage_key.get_secret_value())
        self.delete_batch = delete_batch
        self.client: aiohttp.ClientSession | None = None
        self._logs_ready = False
        # Requests per DFS operation and the Azurite calls each made (GET /_stats); None = not counted.
        self.counter = CallCounter() if count_calls else None

    # --- lifecycle ------------------------------------------------------------------------------
    async def startup(self) -> None:
        self.client = session_for_azurite()
        self.store = BlobStore(self.blob_url, self.account, self.auth.key, self.client)
        self.store.counter = self.counter
        self.namespace = Namespace(self.store)
        self.paths = PathOperations(self.namespace, self.delete_batch)

    async def shutdown(self) -> None:
        if self.client is not None:
            await self.client.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # --- request handling ---------------------------------------------------------------------------
    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False
        status = 0
        began = time.perf_counter()

        async def tracked_send(message: dict[str, Any]) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                status = message["status"]
            started = True
            await send(message)

        try:
            await self._handle(scope, receive, tracked_send, lambda: started)
        finally:
            if access_log.isEnabledFor(logging.DEBUG):
                query = scope.get("query_string", b"").decode()
                took = (time.perf_counter() - began) * 1000
                access_log.debug("%s %s?%s %s %.1fms", scope["method"], scope["path"], query, status, took)

    async def _handle(
        self, scope: Scope, receive: Receive, tracked_send: Send, has_started: Callable[[], bool]
    ) -> None:
        api = "dfs"
        version = API_VERSION
        try:
            if scope["path"] == "/_health":
                await self._health(tracked_send)
                return
            if scope["path"] == "/_stats" and self.counter is not None:
                await self._stats(scope["method"], tracked_send)
                return
            if scope["method"].upper() not in HTTP_VERBS:
                raise StorageError("UnsupportedHttpVerb")
            request = Request.from_scope(scope, receive)
            version = request.headers.get("x-ms-version", API_VERSION)
            target = parse_target(request.raw_path, self.account)
            api, forward = self._api_of(request, target)
            signed = SignedRequest(
                method=request.sent_method,
                raw_path=request.raw_path,
                decoded_path=unquote(request.raw_path),
                query=request.query,
                headers=request.headers,
                client_ip=request.client_ip,
            )
            scope_path = target.path or request.params.get("directory", "").strip("/")
            grant = self.auth.authenticate(signed, target.filesystem, scope_path)
            if self.counter is None:
                await self._serve(request, target, grant, forward, version, tracked_send)
            else:
                name = operation_name(request.method, request.params, request.headers, forward)
                with self.counter.operation(name):
                    await self._serve(request, target, grant, forward, version, tracked_send)
        except StorageError as error:
            if has_started():
                log.warning("error after the response started: %s", error)
                return
            await self._respond_error(tracked_send, error, api, scope, version)
        except Exception as exc:
            if isinstance(exc, aiohttp.ClientError | TimeoutError | OSError):
                log.warning("Azurite unreachable: %s", exc)
                failure = StorageError("ServerBusy", "The storage backend (Azurite) is not reachable.")
            else:
                log.exception("unexpected error on %s %s", scope["method"], scope["path"])
                failure = StorageError("InternalError")
            if not has_started():
                await self._respond_error(tracked_send, failure, api, scope, version)

    async def _serve(
        self, request: Request, target: Target, grant: Grant, forward: bool, version: str, send: Send
    ) -> None:
        if forward:
            await self._forward(request, target, grant, send)
            return
        reply = await self._dfs(request, target, grant, send)
        if reply is not None:
            await respond(send, reply.status, common_headers(version) | reply.headers, reply.body)

    @staticmethod
    async def _respond_error(send: Send, error: StorageError, api: str, scope: Scope, version: str) -> None:
        code, headers, body = error_response(error, api, scope.get("method", ""))
        # Refusals of bad input are worth a line; not-found and conflicts are the normal answers of probes.
        level = logging.DEBUG if error.status in (404, 409, 412) else logging.INFO
        query = scope.get("query_string", b"").decode("latin-1")
        log.log(level, "%s %s?%s -> %s %s", scope.get("method"), scope.get("path"), query, error.status, code)
        await respond(send, error.status, common_headers(version) | headers, body)

    @staticmethod
    def _api_of(request: Request, target: Target) -> tuple[str, bool]:
        """(API, forward): which API the request belongs to and whether it goes to Azurite as it is.

        Azure tells the two APIs apart by host name (``.dfs.`` or ``.blob.``); on one local port the request
        itself has to say. DFS-only query parameters or headers make it DFS, Blob-only ones Blob. A bare
        read, status lookup or delete of a path is the same request in both APIs: its User-Agent decides
        (the DataLake SDKs and Hadoop's ABFS driver name themselves), Blob otherwise. Reads and status
        lookups of a path are answered here in either case (implicit directories, DFS headers); only the
        error names differ.
        """
        params, method, headers = request.params, request.method, request.headers
        if target.is_account:
            return ("dfs", False) if params.get("resource") == "account" else ("blob", True)
        if target.is_filesystem:
            if params.get("resource") == "filesystem" or "action" in params:
                return "dfs", False
            if method == "PUT" and "x-ms-rename-source" in request.headers:
                return "dfs", False  # a rename into the root directory
            return "blob", True
        if params.get("comp") == "expiry":
            return "dfs", False  # a Blob API call, but on Azurite's blobs the endpoint keeps the expiry
        if "comp" in params or "snapshot" in params or "versionid" in params:
            return "blob", True
        if method == "PUT":
            dfs = "resource" in params or "x-ms-rename-source" in headers
            return ("dfs", False) if dfs else ("blob", True)
        if method == "PATCH":
            return "dfs", False
        if method not in ("GET", "HEAD", "DELETE"):
            return "blob", True
        if "x-ms-delete-snapshots" in headers:
            return "blob", True
        if any(name in params for name in _DFS_PARAMETERS):
            return "dfs", False
        api = "dfs" if _DFS_AGENTS.search(headers.get("user-agent", "")) else "blob"
        return api, method == "DELETE" and api == "blob"

    async def _dfs(self, request: Request, target: Target, grant: Grant, send: Send) -> Reply | None:
        params, method = request.params, request.method
        filesystem = target.filesystem
        if target.is_account:
            grant.require("s", "l", None)
            body, token = await list_filesystems(
                self.store,
                params.get("prefix", ""),
                _int(params.get("maxresults"), 5000),
                params.get("continuation", ""),
            )
            return _json(body, token)
        assert filesystem is not None
        if target.is_filesystem and params.get("resource") == "filesystem":
            return await self._filesystem(request, filesystem, grant)
        path = target.path
        action = params.get("action", "")
        if method in ("HEAD", "GET") and (not path or method == "HEAD" or action):
            grant.require("o", "r", "re" if action == "getAccessControl" else "r")
            return await self._status(request, filesystem, path, send)
        if method == "GET":
            grant.require("o", "r", "r")
            await self._read(request, filesystem, path, send)
            return None
        if method == "PUT" and params.get("comp") == "expiry":
            grant.require("o", "w", "w")
            return await self.paths.set_expiry(request, filesystem, path)
        if method == "PUT" and "x-ms-rename-source" in request.headers:
            return await self._rename(request, filesystem, path, grant)
        if method == "PUT":
            grant.require("o", "cw", "cw")
            return await self.paths.create(request, filesystem, path)
        if method == "DELETE":
            grant.require("o", "d", "d")
            return await self.paths.delete(request, filesystem, path)
        if method == "PATCH":
            handlers: dict[str, tuple[Need, Any]] = {
                "append": (("o", "aw", "aw"), self.paths.append),
                "flush": (("o", "w", "w"), self.paths.flush),
                "setProperties": (("o", "w", "w"), self.paths.set_properties),
                "setAccessControl": (("o", "w", "op"), self.paths.set_access_control),
            }
            if action not in handlers:
                raise StorageError(
                    "InvalidQueryParameterValue", f"The action {action!r} is not supported here."
                )
            need, handler = handlers[action]
            grant.require(*need)
            return await handler(request, filesystem, path)
        raise StorageError("UnsupportedHttpVerb")

    # --- filesystems ----------------------------------------------------------------------------------
    async def _filesystem(self, request: Request, filesystem: str, grant: Grant) -> Reply:
        method, params = request.method, request.params
        if method == "GET":
            grant.require("c", "l", "l")
            body, token = await list_paths(
                self.namespace,
                filesystem,
                params.get("directory", ""),
                params.get("recursive", "").lower() == "true",
                _int(params.get("maxresults"), 5000),
                params.get("continuation", ""),
                params.get("beginfrom", ""),
            )
            return _json(body, token)
        if method == "PUT":
            grant.require("c", "c", None)
            metadata = parse_properties(request.headers.get("x-ms-properties"))
            headers = {f"x-ms-meta-{k}": v for k, v in metadata.items()}
            response = await self.store.call(
                "PUT", filesystem, query=[("restype", "container")], headers=headers
            )
            raise_for(response, "FilesystemNotFound")
            reply = written(response.headers)
            reply.headers["x-ms-namespace-enabled"] = "true"
            return reply
        if method == "DELETE":
            grant.require("c", "d", None)
            response = await self.store.call("DELETE", filesystem, query=[("restype", "container")])
            raise_for(response, "FilesystemNotFound")
            self.namespace.forget_tree(filesystem)
            return Reply(202, {"content-length": "0"})
        if method == "HEAD":
            grant.require("c", "r", "r")
            container = await self.store.container_properties(filesystem)
            headers = {
                "etag": container.etag,
                "last-modified": container.last_modified,
                "x-ms-properties": format_properties(container.metadata),
                "x-ms-namespace-enabled": "true",
            }
            return Reply(200, headers)
        if method == "PATCH":
            grant.require("c", "w", None)
            container = await self.store.container_properties(filesystem)
            metadata = reserved_metadata(container.metadata) | parse_properties(
                request.headers.get("x-ms-properties")
            )
            headers = {f"x-ms-meta-{k}": v for k, v in metadata.items()}
            if request.headers.get("if-modified-since"):
                headers["if-modified-since"] = request.headers["if-modified-since"]
            query = [("restype", "container"), ("comp", "metadata")]
            response = await self.store.call("PUT", filesystem, query=query, headers=headers)
            raise_for(response, "FilesystemNotFound")
            return written(response.headers, 200)
        raise StorageError("UnsupportedHttpVerb")

    # --- rename ---------------------------------------------------------------------------------------
    async def _rename(self, request: Request, filesystem: str, path: str, grant: Grant) -> Reply:
        source_fs, source_path, sas = parse_rename_source(request.headers["x-ms-rename-source"], self.account)
        grant.require("o", "w", "cw")
        source_params = dict(parse_qsl(sas))
        if "sig" in source_params:
            source_grant = self.auth.verify_sas(source_params, source_fs, source_path, request.client_ip)
            source_grant.require("o", "d", "dm")
        elif not grant.covers(source_fs, source_path):
            raise StorageError(
                "AuthorizationPermissionMismatch", "The credential does not cover the rename source."
            )
        else:
            grant.require("o", "d", "dm")  # a service SAS moves with delete or move permission
        return await self.paths.rename(request, filesystem, path, (source_fs, source_path))

    # --- status and reads (forwarded, with DFS headers added) ---------------------------------------------
    async def _status(self, request: Request, filesystem: str, path: str, send: Send) -> Reply | None:
        action = request.params.get("action", "")
        if path:
            upstream = await self._send_upstream(request, filesystem, path, "HEAD", stream=False)
            if upstream.status_code != 404:
                headers = self._dfs_headers(upstream, action)
                await respond(send, upstream.status_code, headers)
                return None
            if upstream.headers.get("x-ms-error-code") == "ContainerNotFound":
                raise StorageError("FilesystemNotFound")
        # No blob: the root, an implicit directory (blobs below it), or nothing.
        info = await self.namespace.stat(filesystem, path, blob_missing=bool(path))
        if info is None:
            raise StorageError("PathNotFound")
        acl = access_control(info.metadata, True)
        headers = {
            "etag": info.etag,
            "last-modified": info.last_modified,
            "content-length": "0",
            "x-ms-resource-type": "directory",
            "x-ms-properties": format_properties(info.metadata),
            "x-ms-owner": acl["owner"],
            "x-ms-group": acl["group"],
            "x-ms-permissions": acl["permissions"],
        }
        if path:
            # What Get Blob Properties shows of a directory on Azure: an empty block blob flagged as folder
            # (Blob clients such as adlfs tell directories from empty files by this flag).
            headers |= {"x-ms-blob-type": "BlockBlob", f"x-ms-meta-{FOLDER_KEY}": "true"}
        if action == "getAccessControl":
            headers["x-ms-acl"] = acl["acl"]
        return Reply(200, headers)

    async def _read(self, request: Request, filesystem: str, path: str, send: Send) -> None:
        upstream = await self._send_upstream(request, filesystem, path, "GET", stream=True)
        try:
            if upstream.status_code == 404 and upstream.headers.get("x-ms-error-code") == "BlobNotFound":
                raise StorageError("PathNotFound")
            headers = self._dfs_headers(upstream, "")
            await respond_stream(send, upstream.status_code, headers.items(), upstream.aiter_raw())
        finally:
            await upstream.aclose()

    async def _send_upstream(
        self, request: Request, filesystem: str, path: str, method: str, stream: bool
    ) -> Answer:
        headers = {k: v for k, v in request.headers.items() if k not in HOP_HEADERS}
        upstream = self.store.build(method, self.store.url_path(filesystem, path), headers=headers)
        return await self.store.send(upstream, stream=stream)

    @staticmethod
    def _dfs_headers(upstream: Answer, action: str) -> dict[str, str]:
        headers = _visible(upstream.headers.items())
        metadata = metadata_from(upstream.raw_headers)
        is_directory = is_folder(metadata)
        acl = access_control(metadata, is_directory)
        headers.update(
            {
                "x-ms-resource-type": "directory" if is_directory else "file",
                "x-ms-properties": format_properties(metadata),
                "x-ms-owner": acl["owner"],
                "x-ms-group": acl["group"],
                "x-ms-permissions": acl["permissions"],
            }
        )
        transaction = next((v for k, v in metadata.items() if k.lower() == TRANSACTION_KEY), None)
        if transaction:
            headers["x-ms-client-transaction-id"] = transaction
        if action == "getAccessControl":
            headers["x-ms-acl"] = acl["acl"]
        headers |= system_properties(metadata)
        return headers

    # --- Blob API passthrough ---------------------------------------------------------------------------
    async def _forward(self, request: Request, target: Target, grant: Grant, send: Send) -> None:
        method = request.method
        level = "s" if target.is_account else "c" if target.is_filesystem else "o"
        reading = method in ("GET", "HEAD")
        if reading and request.params.get("comp") == "list":
            need: Need = (level, "l", "l")
        elif reading:
            need = (level, "r", "r")
        elif method == "DELETE":
            need = (level, "d", "d" if level == "o" else None)
        else:
            need = (level, "cw" if level != "s" else "w", "acw" if level == "o" else None)
        anonymous_read = grant.kind == "anonymous" and reading
        if not anonymous_read:
            grant.require(*need)
        headers = {k: v for k, v in request.headers.items() if k not in HOP_HEADERS}
        creates_blob = request.params.get("comp", "blocklist") == "blocklist"
        if method == "PUT" and level == "o" and creates_blob and "/" in target.path:
            # On a hierarchical namespace a blob written through the Blob API gets real parent directories
            # (Blob clients such as adlfs copy and delete them like any blob).
            await self.namespace.ensure_parents(target.filesystem or "", target.path)
        if method == "PUT" and request.params.get("comp") == "metadata" and not target.is_account:
            headers |= await self._kept_metadata(target)
        if method == "DELETE" and level == "o" and not {"snapshot", "versionid"} & request.params.keys():
            # As on a hierarchical namespace, the Blob API deletes only an empty directory.
            filesystem = target.filesystem or ""
            blob = await self.store.properties(filesystem, target.path)
            if blob is not None and blob.is_directory and await self.store.any_below(filesystem, target.path):
                raise StorageError("DirectoryIsNotEmpty")
        tag_conditions = any(f"x-ms-blob-{h}" in headers for h in CONDITIONS)
        if request.params.get("comp") == "tags" and level == "o" and tag_conditions:
            # Azurite ignores the x-ms-blob-if-* conditions of Get/Set Blob Tags; Azure evaluates them.
            info = await self.namespace.stat(target.filesystem or "", target.path)
            check_conditions(info, headers, prefix="x-ms-blob-")
        query = [(k, v) for k, v in request.query if k.lower() not in SAS_PARAMETERS]
        length = request.content_length
        body: AsyncIterator[bytes] | bytes | None = (
            request.body() if (length or "chunked" in request.headers.get("transfer-encoding", "")) else None
        )
        if level == "s" and method == "PUT" and request.params.get("comp") == "properties":
            body = check_service_properties(await request.read(limit=64 * 1024))
        if length:
            headers["content-length"] = str(length)
        # Azure accounts have a $logs container that List Containers shows only with include=system.
        listing = level == "s" and method == "GET" and request.params.get("comp") == "list"
        with_system = "system" in request.params.get("include", "").lower().split(",")
        if listing and with_system:
            await self._ensure_logs_container()
        url_path = self.store.url_path(target.filesystem, target.path)
        upstream_request = self.store.build(method, url_path, query, headers, body)
        if anonymous_read:
            upstream_request.headers.pop("authorization", None)
        upstream = await self.store.send(upstream_request, stream=True)
        try:
            headers_out = _visible(upstream.headers.items())
            if target.filesystem and method == "DELETE" and upstream.status_code < 300:
                self.namespace.forget_tree(target.filesystem, target.path)
            if listing and not with_system and upstream.status_code == 200:
                listed = _SYSTEM_CONTAINER.sub(b"", await upstream.aread())
                await respond(send, 200, headers_out | {"content-length": str(len(listed))}, listed)
                return
            await respond_stream(send, upstream.status_code, headers_out.items(), upstream.aiter_raw())
        finally:
            await upstream.aclose()

    async def _ensure_logs_container(self) -> None:
        if self._logs_ready:
            return
        response = await self.store.call("PUT", LOGS_CONTAINER, query=[("restype", "container")])
        if response.status_code not in (201, 409):
            raise_for(response)
        self._logs_ready = True

    async def _kept_metadata(self, target: Target) -> dict[str, str]:
        """Set Metadata replaces all metadata: keep the folder flag and ACL, which the namespace owns."""
        if target.is_filesystem:
            current = (await self.store.container_properties(target.filesystem or "")).metadata
        else:
            blob = await self.store.properties(target.filesystem or "", target.path)
            current = blob.metadata if blob else {}
        return {f"x-ms-meta-{k}": v for k, v in reserved_metadata(current).items()}

    # --- health and call counts -------------------------------------------------------------------------
    async def _stats(self, method: str, send: Send) -> None:
        """``GET /_stats``: the call counts as JSON; ``DELETE /_stats`` clears them (``--count-calls``)."""
        assert self.counter is not None
        if method == "DELETE":
            self.counter.clear()
        body = json.dumps(self.counter.snapshot()).encode()
        await respond(send, 200, {"content-type": "application/json"}, body)

    async def _health(self, send: Send) -> None:
        try:
            response = await self.store.call("GET", None, query=[("comp", "list"), ("maxresults", "1")])
            healthy = response.status_code == 200
        except (aiohttp.ClientError, TimeoutError, OSError):
            healthy = False
        body = json.dumps(
            {"status": "ok" if healthy else "azurite unavailable", "blob": self.blob_url}
        ).encode()
        await respond(send, 200 if healthy else 503, {"content-type": "application/json"}, body)


# --- helpers ---------------------------------------------------------------------------------------------
def common_headers(version: str) -> dict[str, str]:
    """The headers every answer of the endpoint carries."""
    return {
        "x-ms-request-id": str(uuid.uuid4()),
        "x-ms-version": version,
        "date": http_date(),
        "server": "lakehouse-dfs",
    }


def _visible(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Upstream headers minus hop-by-hop ones and the namespace's private metadata."""
    kept: dict[str, str] = {}
    for name, value in items:
        if name in ("connection", "keep-alive", "transfer-encoding") or name.startswith(_HIDDEN_META):
            continue
        kept[name] = f"{kept[name]},{value}" if name in kept else value
    return kept


def _int(value: str | None, default: int) -> int:
    if value is None:
        return default
    if not value.isdigit() or int(value) < 1:
        raise StorageError("InvalidQueryParameterValue", "maxResults must be a positive integer.")
    return int(value)


def _json(body: bytes, continuation: str) -> Reply:
    headers = {"content-type": "application/json;charset=utf-8"}
    if continuation:
        headers["x-ms-continuation"] = continuation
    return Reply(200, headers, body)


def check_service_properties(body: bytes) -> bytes:
    """Refuse what Azure refuses in Set Service Properties before Azurite (which accepts it) stores it.

    Every retention policy (delete retention, logging, metrics) keeps 1 to 365 days.
    """
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise StorageError("InvalidXmlDocument", "The service properties are not well-formed XML.") from exc
    for policy in (*root.iter("RetentionPolicy"), *root.iter("DeleteRetentionPolicy")):
        enabled = (policy.findtext("Enabled") or "").strip().lower() == "true"
        days = (policy.findtext("Days") or "").strip()
        if enabled and (not days.isdigit() or not 1 <= int(days) <= 365):
            raise StorageError("InvalidXmlNodeValue", "A retention policy keeps 1 to 365 days.")
    return body
