"""Names: which account, filesystem and path a request addresses, and which names are allowed.

URLs are IP-style, ``/<account>/<filesystem>/<path>`` (the account may be left out), percent-encoded. Names
are checked after decoding, so ``a%2F..%2Fb`` is refused like ``a/../b``. A path is stored as the blob of the
same name; the empty path is the filesystem's root directory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from infra.local.dfs.errors import StorageError

MAX_PATH_LENGTH = 1024
MAX_SEGMENT_LENGTH = 255
MAX_DEPTH = 250
# Container names: 3-63 of [a-z0-9-], starting and ending alphanumeric, no "--"; plus the system containers.
_FILESYSTEM = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_SYSTEM_FILESYSTEMS = {"$root", "$logs", "$web"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Target:
    """What a request URL addresses: the account, or a filesystem, or a path inside one."""

    filesystem: str | None
    path: str

    @property
    def is_account(self) -> bool:
        return self.filesystem is None

    @property
    def is_filesystem(self) -> bool:
        return self.filesystem is not None and not self.path


def parse_target(raw_path: str, account: str) -> Target:
    """Split ``/<account>/<filesystem>/<path>`` (still percent-encoded) and validate each part.

    The account segment may be missing (``/<filesystem>/<path>``): the DataLake SDKs build a rename's
    destination URL by replacing the whole URL path, which drops it on IP-style URLs. A first segment equal
    to the account name is always taken as the account.
    """
    parts = raw_path.split("/", 3)  # "", account, filesystem, path
    if len(parts) < 2 or parts[0] or not parts[1]:
        raise StorageError("InvalidUri", "The requested URI does not represent any resource on the server.")
    if unquote(parts[1]) != account:
        parts = ["", account, *raw_path.split("/", 2)[1:]]
    filesystem = unquote(parts[2]) if len(parts) > 2 and parts[2] else None
    if filesystem is None:
        if len(parts) > 3 and parts[3]:
            raise StorageError("InvalidUri")
        return Target(None, "")
    check_filesystem(filesystem)
    path = decode_path(parts[3]) if len(parts) > 3 else ""
    return Target(filesystem, path)


def check_filesystem(name: str) -> None:
    if name not in _SYSTEM_FILESYSTEMS and not _FILESYSTEM.match(name):
        raise StorageError("InvalidResourceName", f"The specified filesystem name is not valid: {name!r}.")


def decode_path(encoded: str) -> str:
    """Decode and validate a path (no leading slash; one trailing slash is dropped)."""
    try:
        path = unquote(encoded, errors="strict")
    except UnicodeDecodeError as exc:
        raise StorageError("InvalidUri", "The request URI is not valid UTF-8.") from exc
    if path.endswith("/"):
        path = path[:-1]
    if path:
        check_path(path)
    return path


def check_path(path: str) -> None:
    """Refuse names the namespace cannot hold: ``.``, ``..`` or empty segments, control characters, excess."""
    if len(path.encode()) > MAX_PATH_LENGTH or _CONTROL.search(path) or "\\" in path:
        raise StorageError("InvalidResourceName")
    segments = path.split("/")
    if len(segments) > MAX_DEPTH:
        raise StorageError("InvalidResourceName", "The path has too many segments.")
    for segment in segments:
        if segment in ("", ".", "..") or len(segment.encode()) > MAX_SEGMENT_LENGTH:
            raise StorageError("InvalidResourceName")


def parse_rename_source(value: str, account: str) -> tuple[str, str, str]:
    """``[/<account>]/<filesystem>/<path>[?<sas>]`` of ``x-ms-rename-source`` -> (filesystem, path, sas).

    Azure's form has no account; the SDKs on IP-style URLs send the source's URL path, account first. A
    first segment equal to the account name is taken as the account when a filesystem and path follow.
    """
    split = urlsplit(value)
    if split.scheme or split.netloc or not split.path.startswith("/"):
        raise StorageError("InvalidSourceUri")
    segments = split.path[1:].split("/", 2)
    if len(segments) == 3 and segments[2] and unquote(segments[0]) == account:
        segments = segments[1:]
    filesystem = unquote(segments[0])
    path_part = "/".join(segments[1:])
    if not filesystem:
        raise StorageError("InvalidSourceUri")
    check_filesystem(filesystem)
    path = decode_path(path_part)
    if not path:
        raise StorageError("InvalidSourceUri", "The rename source must name a path inside a filesystem.")
    return filesystem, path, split.query


def parent_of(path: str) -> str:
    """The parent directory of ``path`` ('' for a top-level path)."""
    return path.rpartition("/")[0]


def join_path(directory: str, name: str) -> str:
    """``name`` inside ``directory`` ('' is the root)."""
    return f"{directory}/{name}" if directory else name


def ancestors(path: str) -> list[str]:
    """The directories above ``path``, outermost first: ``a/b/c`` -> ``['a', 'a/b']``."""
    segments = path.split("/")[:-1]
    return ["/".join(segments[: i + 1]) for i in range(len(segments))]


def quote_path(path: str) -> str:
    """Percent-encode a path for a URL (slashes kept)."""
    return quote(path, safe="/~")


def is_within(path: str, directory: str) -> bool:
    """True if ``path`` is ``directory`` or below it ('' is the root and holds everything)."""
    return not directory or path == directory or path.startswith(directory + "/")
