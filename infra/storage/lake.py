"""The project's lake client: ADLS Gen2 through ``azure-storage-file-datalake``, for both profiles.

Locally it talks to the project's DFS endpoint with Azurite's development key; on Azure to the real account
with ``DefaultAzureCredential``. Callers name a zone (``landing``, ``bronze``, ``silver``, ``gold``) and a
path; the zone map in :mod:`infra.settings` decides the filesystem.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.filedatalake import DataLakeServiceClient, ExponentialRetry, FileSystemClient

from infra.identity import storage_credential
from infra.settings import ZONES, Settings, Zone, get_settings


@dataclass(frozen=True)
class LakeEntry:
    """One path of a listing, relative to its zone's root."""

    path: str
    is_directory: bool
    size: int
    last_modified: datetime | None
    etag: str | None


credential_for = storage_credential


class Lake:
    """Zone-addressed reads and writes on ADLS Gen2."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.service = DataLakeServiceClient(
            account_url=self.settings.dfs_url, credential=credential_for(self.settings)
        )

    @classmethod
    def quick_to_fail(
        cls, settings: Settings | None = None, retries: int = 2, backoff_seconds: float = 0.5
    ) -> Lake:
        """A lake whose SDK retries give up within seconds (the default waits 15 s, 18 s, 24 s).

        For callers that retry themselves, e.g. Prefect tasks with ``retries``: an unreachable endpoint then
        surfaces quickly, and the caller's own retry policy decides what happens next.
        """
        lake = cls(settings)
        lake.service.close()
        lake.service = DataLakeServiceClient(
            account_url=lake.settings.dfs_url,
            credential=credential_for(lake.settings),
            retry_policy=ExponentialRetry(
                initial_backoff=backoff_seconds,  # type: ignore[arg-type]  # seconds; float works, the stub says int
                increment_base=1,
                retry_total=retries,
                random_jitter_range=0,
            ),
        )
        return lake

    def close(self) -> None:
        self.service.close()

    def __enter__(self) -> Lake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- containers --------------------------------------------------------------------------
    def filesystem(self, zone: Zone) -> FileSystemClient:
        return self.service.get_file_system_client(self.settings.container(zone))

    def ensure_zones(self, zones: tuple[Zone, ...] = ZONES) -> None:
        """Create the zone containers that do not exist yet."""
        for zone in zones:
            with contextlib.suppress(ResourceExistsError):
                self.filesystem(zone).create_file_system()

    # --- files -------------------------------------------------------------------------------
    def write_bytes(self, zone: Zone, path: str, data: bytes, overwrite: bool = True) -> None:
        """Write ``data`` to ``path`` (parents are created by the service)."""
        location = self.settings.lake_path(zone, path)
        file = self.filesystem(zone).get_file_client(location.path)
        file.upload_data(data, overwrite=overwrite)

    def upload_file(self, zone: Zone, path: str, source: Path, overwrite: bool = True) -> None:
        location = self.settings.lake_path(zone, path)
        file = self.filesystem(zone).get_file_client(location.path)
        with source.open("rb") as handle:
            file.upload_data(handle, length=source.stat().st_size, overwrite=overwrite)

    def read_bytes(self, zone: Zone, path: str) -> bytes:
        location = self.settings.lake_path(zone, path)
        return self.filesystem(zone).get_file_client(location.path).download_file().readall()

    def exists(self, zone: Zone, path: str) -> bool:
        location = self.settings.lake_path(zone, path)
        return self.filesystem(zone).get_file_client(location.path).exists()

    def delete(self, zone: Zone, path: str, recursive: bool = False) -> bool:
        """Delete a file, or a directory (with ``recursive``). False if it did not exist."""
        location = self.settings.lake_path(zone, path)
        fs = self.filesystem(zone)
        try:
            if recursive:
                fs.get_directory_client(location.path).delete_directory()
            else:
                fs.get_file_client(location.path).delete_file()
        except ResourceNotFoundError:
            return False
        return True

    def rename(self, zone: Zone, source: str, destination: str) -> None:
        """Rename a file inside a zone (fails if ``destination`` exists)."""
        src = self.settings.lake_path(zone, source)
        dst = self.settings.lake_path(zone, destination)
        file = self.filesystem(zone).get_file_client(src.path)
        file.rename_file(f"{dst.filesystem}/{dst.path}", if_none_match="*")

    def list(self, zone: Zone, prefix: str = "", recursive: bool = True) -> Iterator[LakeEntry]:
        """Paths under ``prefix`` (nothing if the prefix does not exist)."""
        location = self.settings.lake_path(zone, prefix)
        try:
            for item in self.filesystem(zone).get_paths(path=location.path or None, recursive=recursive):
                yield LakeEntry(
                    path=item.name,
                    is_directory=bool(item.is_directory),
                    size=item.content_length or 0,
                    last_modified=item.last_modified,
                    etag=item.etag,
                )
        except ResourceNotFoundError:
            return

    def files(self, zone: Zone, prefix: str = "", suffix: str = "") -> builtins.list[LakeEntry]:
        """Files (not directories) under ``prefix`` whose name ends with ``suffix``, sorted by path."""
        return sorted(
            (e for e in self.list(zone, prefix) if not e.is_directory and e.path.endswith(suffix)),
            key=lambda e: e.path,
        )

    # --- metadata (added for the ingestion copies) --------------------------------------------
    def write_bytes_with_metadata(
        self, zone: Zone, path: str, data: bytes, metadata: dict[str, str], overwrite: bool = True
    ) -> None:
        """Write ``data`` with user metadata (``x-ms-properties``), e.g. the ingestion facts of a copy.

        An empty ``data`` still creates the file (``upload_data`` skips zero-length uploads).
        """
        location = self.settings.lake_path(zone, path)
        file = self.filesystem(zone).get_file_client(location.path)
        if not data:
            if not overwrite and file.exists():
                raise ResourceExistsError(f"{zone}/{path} exists")
            file.create_file(metadata=metadata)
            return
        file.upload_data(data, overwrite=overwrite, metadata=metadata)

    def properties(self, zone: Zone, path: str) -> LakeFileProperties | None:
        """Size, etag, last-modified time and user metadata of a file; None if it does not exist."""
        location = self.settings.lake_path(zone, path)
        try:
            props = self.filesystem(zone).get_file_client(location.path).get_file_properties()
        except ResourceNotFoundError:
            return None
        return LakeFileProperties(
            path=location.path,
            size=props.size or 0,
            etag=props.etag,
            last_modified=props.last_modified,
            metadata=dict(props.metadata or {}),
        )


@dataclass(frozen=True)
class LakeFileProperties:
    """What :meth:`Lake.properties` returns for one file."""

    path: str
    size: int
    etag: str | None
    last_modified: datetime | None
    metadata: dict[str, str]
