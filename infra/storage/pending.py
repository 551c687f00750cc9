"""What the medallion would find new, read without Spark: bronze listed with the DataLake SDK, the
processed-file log read with delta-rs.

A run with nothing to do then costs a listing and two small reads instead of a JVM. The answer only ever
errs towards "something is new": a file whose URL, size or modification time does not match the log exactly
counts as new, and the Spark path (:func:`infra.storage.delta_io.list_files`,
:func:`infra.storage.delta_io.unprocessed_by_source`) decides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from infra.settings import Settings, Zone
from infra.storage.delta_io import SourceFile
from infra.storage.delta_rs import open_table
from infra.storage.lake import Lake


def list_source_files(lake: Lake, zone: Zone, folder: str, suffix: str = "") -> list[SourceFile]:
    """:func:`~infra.storage.delta_io.list_files` through the SDK: the same files, URLs, sizes and times.

    Hidden files and folders (``_*``, ``.*``) are skipped; URLs are ``settings.lake_url(zone, folder)`` plus
    the path below it, as Hadoop prints them; times are Last-Modified in milliseconds (whole seconds, as the
    ABFS driver reads them).
    """
    root = lake.settings.lake_path(zone, folder).path.strip("/")
    root_url = lake.settings.lake_url(zone, folder).rstrip("/")
    found = []
    for entry in lake.files(zone, folder, suffix):
        relative = entry.path.strip("/")[len(root) :].lstrip("/")
        if any(part.startswith(("_", ".")) for part in relative.split("/")):
            continue
        modified = 0 if entry.last_modified is None else int(entry.last_modified.timestamp()) * 1000
        found.append(SourceFile(f"{root_url}/{relative}", entry.size, modified))
    return sorted(found, key=lambda f: f.url)


def unprocessed_by_source(
    settings: Settings, log_url: str, listed: Mapping[str, Sequence[SourceFile]]
) -> dict[str, list[SourceFile]]:
    """Per source, the files of ``listed`` the processed-file log at ``log_url`` does not hold (delta-rs)."""
    log = open_table(settings, log_url)
    if log is None:
        return {source: list(files) for source, files in listed.items()}
    rows = log.to_pyarrow_table(columns=["source", "file_url", "size", "modified_ms"]).to_pylist()
    done = {(r["source"], r["file_url"], r["size"], r["modified_ms"]) for r in rows}
    return {
        source: [f for f in files if (source, f.url, f.size, f.modified_ms) not in done]
        for source, files in listed.items()
    }
