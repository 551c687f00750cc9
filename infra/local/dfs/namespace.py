"""The hierarchical namespace on top of flat blobs: what a path is, its parents, its locks and its ACL.

A directory exists when its marker blob exists (``hdi_isfolder=true``) or, for blobs written by Blob clients
straight into Azurite, when any blob lies below it (an *implicit* directory). Writes through this endpoint
always create the markers, so both views agree.

Renames, creates and deletes of one path are serialised by a per-path lock held in this (single) endpoint
process; together with Azurite's conditional writes that makes "a rename with ``If-None-Match: *`` onto an
existing destination fails" hold when two renames race, which is all Delta's commit protocol needs.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from infra.local.dfs.blobstore import FOLDER_KEY, RESERVED_KEYS, BlobProperties, BlobStore
from infra.local.dfs.errors import StorageError
from infra.local.dfs.paths import ancestors

SUPERUSER = "$superuser"
DIRECTORY_PERMISSIONS = "rwxr-x---"
FILE_PERMISSIONS = "rw-r-----"
_PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SYMBOLIC = re.compile(r"^[r-][w-][x-][r-][w-][x-][r-][w-][xtT-]\+?$")
_MAX_KNOWN_DIRECTORIES = 100_000


@dataclass(frozen=True)
class PathInfo:
    """A path as the DFS API describes it."""

    path: str
    is_directory: bool
    etag: str  # quoted
    last_modified: str
    content_length: int
    metadata: dict[str, str]
    has_marker: bool  # False for the root and for implicit directories

    @property
    def resource_type(self) -> str:
        return "directory" if self.is_directory else "file"

    @property
    def properties(self) -> dict[str, str]:
        return user_metadata(self.metadata)

    @property
    def acl(self) -> dict[str, str]:
        return access_control(self.metadata, self.is_directory)


def user_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in metadata.items() if k.lower() not in RESERVED_KEYS}


def reserved_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in metadata.items() if k.lower() in RESERVED_KEYS}


# --- x-ms-properties ------------------------------------------------------------------------------
def parse_properties(header: str | None) -> dict[str, str]:
    """``n1=<base64>,n2=<base64>`` -> metadata (names must be C# identifiers, values ASCII)."""
    if not header:
        return {}
    found: dict[str, str] = {}
    for item in header.split(","):
        name, sep, encoded = item.strip().partition("=")
        if not sep or not _PROPERTY_NAME.match(name) or name.lower() in RESERVED_KEYS:
            raise StorageError("InvalidPropertyName")
        try:
            value = base64.b64decode(encoded, validate=True).decode("ascii")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise StorageError("InvalidHeaderValue", "Property values must be base64-encoded ASCII.") from exc
        found[name] = value
    return found


def format_properties(metadata: Mapping[str, str]) -> str:
    return ",".join(
        f"{k}={base64.b64encode(v.encode()).decode()}" for k, v in user_metadata(metadata).items()
    )


# --- access control -------------------------------------------------------------------------------
def access_control(metadata: Mapping[str, str], is_directory: bool) -> dict[str, str]:
    """owner, group, permissions and acl of a path (service defaults where nothing was set)."""
    lowered = {k.lower(): v for k, v in metadata.items()}
    permissions = lowered.get("dfs_permissions") or (
        DIRECTORY_PERMISSIONS if is_directory else FILE_PERMISSIONS
    )
    acl = lowered.get("dfs_acl") or _acl_from_permissions(permissions)
    return {
        "owner": lowered.get("dfs_owner", SUPERUSER),
        "group": lowered.get("dfs_group", SUPERUSER),
        "permissions": permissions,
        "acl": acl,
    }


def updated_access_control(
    metadata: Mapping[str, str], headers: Mapping[str, str], is_directory: bool
) -> dict[str, str]:
    """The ACL metadata after a setAccessControl with ``headers`` (x-ms-owner/-group/-permissions/-acl)."""
    current = access_control(metadata, is_directory)
    owner = headers.get("x-ms-owner") or current["owner"]
    group = headers.get("x-ms-group") or current["group"]
    permissions, acl = current["permissions"], current["acl"]
    if headers.get("x-ms-acl"):
        acl = _check_acl(headers["x-ms-acl"])
        permissions = _permissions_from_acl(acl, permissions)
    if headers.get("x-ms-permissions"):
        permissions = normalise_permissions(headers["x-ms-permissions"])
        acl = _acl_with_permissions(acl, permissions)
    return {"dfs_owner": owner, "dfs_group": group, "dfs_permissions": permissions, "dfs_acl": acl}


def normalise_permissions(value: str) -> str:
    """Octal (``0750``) or symbolic (``rwxr-x---``) permissions as symbolic."""
    value = value.strip()
    if re.fullmatch(r"[0-7]{3,4}", value):
        digits = value[-3:]
        sticky = len(value) == 4 and int(value[0]) & 1
        text = "".join(
            ("r" if int(d) & 4 else "-") + ("w" if int(d) & 2 else "-") + ("x" if int(d) & 1 else "-")
            for d in digits
        )
        return text[:-1] + ("t" if text[-1] == "x" else "T") if sticky else text
    if _SYMBOLIC.match(value):
        return value
    raise StorageError("InvalidHeaderValue", "x-ms-permissions must be symbolic (rwxr-x---) or octal (0750).")


def _check_acl(acl: str) -> str:
    entries = [e.strip() for e in acl.split(",") if e.strip()]
    for entry in entries:
        parts = entry.split(":")
        if parts[0] == "default":
            parts = parts[1:]
        if (
            len(parts) != 3
            or parts[0] not in ("user", "group", "mask", "other")
            or not re.fullmatch(r"[r-][w-][x-]", parts[2])
        ):
            raise StorageError("InvalidHeaderValue", f"Invalid ACL entry {entry!r}.")
    return ",".join(entries)


def _acl_from_permissions(permissions: str) -> str:
    return f"user::{permissions[0:3]},group::{permissions[3:6]},other::{permissions[6:9]}"


def _permissions_from_acl(acl: str, fallback: str) -> str:
    base = {"user": fallback[0:3], "group": fallback[3:6], "other": fallback[6:9]}
    for entry in acl.split(","):
        parts = entry.split(":")
        if len(parts) == 3 and not parts[1] and parts[0] in (*base, "mask"):
            base["group" if parts[0] == "mask" else parts[0]] = parts[2]
    return base["user"] + base["group"] + base["other"]


def _acl_with_permissions(acl: str, permissions: str) -> str:
    base = {"user": permissions[0:3], "group": permissions[3:6], "other": permissions[6:9]}
    entries = []
    for entry in acl.split(","):
        parts = entry.split(":")
        if len(parts) == 3 and not parts[1] and parts[0] in base:
            entry = f"{parts[0]}::{base[parts[0]]}"
        entries.append(entry)
    return ",".join(entries)


# --- the namespace --------------------------------------------------------------------------------
class Namespace:
    """Path lookups, parent creation and per-path locks over a :class:`BlobStore`."""

    def __init__(self, store: BlobStore) -> None:
        self.store = store
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._lock_users: dict[tuple[str, str], int] = {}
        # Directories known to have a marker; saves a lookup per parent on every create.
        self._known_directories: set[tuple[str, str]] = set()

    # -- locks --
    @contextlib.asynccontextmanager
    async def locked(self, *keys: tuple[str, str]) -> AsyncIterator[None]:
        """Hold the locks of ``keys`` (filesystem, path), always taken in the same order."""
        registered: list[tuple[str, str]] = []
        held: list[asyncio.Lock] = []
        try:
            for key in sorted(set(keys)):
                lock = self._locks.setdefault(key, asyncio.Lock())
                self._lock_users[key] = self._lock_users.get(key, 0) + 1
                registered.append(key)
                await lock.acquire()
                held.append(lock)
            yield
        finally:
            for lock in reversed(held):
                lock.release()
            for key in registered:
                self._lock_users[key] -= 1
                if not self._lock_users[key]:
                    del self._lock_users[key]
                    del self._locks[key]

    # -- lookups --
    async def stat(self, filesystem: str, path: str, blob_missing: bool = False) -> PathInfo | None:
        """The file or directory at ``path`` ('' is the root), or None.

        ``blob_missing`` says the caller already found no blob of that name (skips a second lookup).
        """
        if not path:
            container = await self.store.container_properties(filesystem)
            return PathInfo("", True, container.etag, container.last_modified, 0, container.metadata, False)
        if not blob_missing:
            blob = await self.store.properties(filesystem, path)
            if blob is not None:
                return _info(path, blob)
        below = await self.store.any_below(filesystem, path)
        if below is None:
            return None
        return PathInfo(path, True, f'"{below.etag.strip(chr(34))}"', below.last_modified, 0, {}, False)

    async def require(self, filesystem: str, path: str, code: str = "PathNotFound") -> PathInfo:
        info = await self.stat(filesystem, path)
        if info is None:
            raise StorageError(code)
        return info

    # -- directories --
    def remember_directory(self, filesystem: str, path: str) -> None:
        if len(self._known_directories) > _MAX_KNOWN_DIRECTORIES:
            self._known_directories.clear()
        self._known_directories.add((filesystem, path))

    def knows_directory(self, filesystem: str, path: str) -> bool:
        """Whether ``path`` is a directory this endpoint made or saw with its marker (and has not removed)."""
        return (filesystem, path) in self._known_directories

    def forget_tree(self, filesystem: str, path: str = "") -> None:
        """Drop cached knowledge of ``path`` and everything below it (the whole filesystem for '')."""
        prefix = path + "/"
        self._known_directories = {
            (fs, p)
            for fs, p in self._known_directories
            if fs != filesystem or (path and p != path and not p.startswith(prefix))
        }

    async def ensure_parents(self, filesystem: str, path: str) -> None:
        """Create the missing directories above ``path``; a file in the way is a PathConflict."""
        missing: list[str] = []
        for directory in reversed(ancestors(path)):
            if (filesystem, directory) in self._known_directories:
                break
            info = await self.stat(filesystem, directory)
            if info is not None and not info.is_directory:
                raise StorageError("PathConflict", f"The parent path {directory!r} is a file.")
            if info is not None and info.has_marker:
                self.remember_directory(filesystem, directory)
                break
            missing.append(directory)
        if not missing:
            # Even a top-level path needs its filesystem.
            if "/" not in path:
                await self.store.container_properties(filesystem)
            return
        for directory in reversed(missing):
            await self.make_marker(filesystem, directory)

    async def make_marker(
        self, filesystem: str, directory: str, metadata: Mapping[str, str] | None = None
    ) -> str:
        """Create the marker blob of ``directory`` unless one exists; returns the marker's ETag."""
        try:
            response = await self.store.put_empty(
                filesystem, directory, {FOLDER_KEY: "true", **(metadata or {})}, {"if-none-match": "*"}
            )
        except StorageError as error:
            if error.code != "PathAlreadyExists":
                raise
            existing = await self.store.properties(filesystem, directory)
            if existing is None or not existing.is_directory:
                raise StorageError("PathConflict", f"{directory!r} exists and is not a directory.") from error
            self.remember_directory(filesystem, directory)
            return existing.etag
        self.remember_directory(filesystem, directory)
        return response.headers.get("etag", "")


def _info(path: str, blob: BlobProperties) -> PathInfo:
    return PathInfo(
        path=path,
        is_directory=blob.is_directory,
        etag=blob.etag,
        last_modified=blob.last_modified,
        content_length=0 if blob.is_directory else blob.content_length,
        metadata=blob.metadata,
        has_marker=True,
    )
