"""Hadoop's FileSystem contract through the ABFS driver (hadoop-azure 3.5, namespace enabled), and the DFS
REST rename rules it rests on.

The first half drives ``org.apache.hadoop.fs.FileSystem`` from PySpark's JVM gateway, so every answer is the
driver's reading of the endpoint. The second half sends the REST calls themselves (Shared Key signed), for
what the driver and the DataLake SDKs ask with their headers: ``mode=posix`` (the default, the driver) moves a
source into an existing directory, ``mode=legacy`` (the SDKs) replaces an empty directory or a file.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from azure.core.exceptions import ResourceExistsError
from azure.storage.filedatalake import FileSystemClient
from dfs_testkit import RawResponse, send, signed_request
from py4j.protocol import Py4JJavaError
from pyspark.sql import SparkSession

from infra.settings import Settings
from tests.conftest import with_fresh_zones

pytestmark = [pytest.mark.spark, pytest.mark.services]


@dataclass
class HadoopFs:
    """The driver's FileSystem for one fresh filesystem (container), with paths relative to its root."""

    spark: SparkSession
    fs: Any  # org.apache.hadoop.fs.FileSystem
    url: str  # abfs://<filesystem>@<account>.dfs.core.windows.net
    name: str  # the filesystem

    def path(self, relative: str = "") -> Any:
        return self.spark._jvm.org.apache.hadoop.fs.Path(f"{self.url}/{relative}")

    def write(self, relative: str, data: bytes, overwrite: bool = False) -> None:
        stream = self.fs.create(self.path(relative), overwrite)
        stream.write(bytearray(data))
        stream.close()

    def read(self, relative: str, offset: int = 0) -> bytes:
        stream = self.fs.open(self.path(relative))
        try:
            if offset:
                stream.seek(offset)
            io = self.spark._jvm.org.apache.hadoop.io.IOUtils
            return bytes(io.readFullyToByteArray(stream))
        finally:
            stream.close()

    def rename(self, source: str, destination: str) -> bool:
        return bool(self.fs.rename(self.path(source), self.path(destination)))

    def tree(self) -> list[str]:
        """Every path of the filesystem, directories with a trailing slash, in name order."""
        found: list[str] = []

        def walk(relative: str) -> None:
            for status in self.fs.listStatus(self.path(relative)):
                name = f"{relative}/{status.getPath().getName()}".lstrip("/")
                found.append(name + "/" if status.isDirectory() else name)
                if status.isDirectory():
                    walk(name)

        walk("")
        return sorted(found)


def java_error(call: Callable[[], object]) -> str:
    """The simple class name of the Java exception ``call`` raises."""
    with pytest.raises(Py4JJavaError) as raised:
        call()
    return str(raised.value.java_exception.getClass().getSimpleName())


@pytest.fixture
def fresh(lake_stack: Settings) -> Settings:
    return with_fresh_zones(lake_stack)


@pytest.fixture
def hadoop(abfs_spark: SparkSession, fresh: Settings) -> Iterator[HadoopFs]:
    name = fresh.container("bronze")
    url = fresh.lake_url("bronze").rstrip("/")
    jvm = abfs_spark._jvm
    fs = jvm.org.apache.hadoop.fs.Path(url + "/").getFileSystem(abfs_spark._jsc.hadoopConfiguration())
    yield HadoopFs(abfs_spark, fs, url, name)


# --- the driver: create, open, seek, append, getFileStatus, mkdirs, delete -------------------------------
def test_create_open_seek_append_and_status(hadoop: HadoopFs):
    hadoop.write("d/f.txt", b"hello world")

    assert hadoop.read("d/f.txt") == b"hello world"
    assert hadoop.read("d/f.txt", offset=6) == b"world"
    status = hadoop.fs.getFileStatus(hadoop.path("d/f.txt"))
    assert (status.isFile(), status.getLen()) == (True, 11)
    assert hadoop.fs.getFileStatus(hadoop.path("d")).isDirectory()  # parents are created
    assert hadoop.fs.getFileStatus(hadoop.path("")).isDirectory()

    assert java_error(lambda: hadoop.write("d/f.txt", b"again")) == "FileAlreadyExistsException"
    hadoop.write("d/f.txt", b"replaced", overwrite=True)
    assert java_error(lambda: hadoop.write("d", b"x", overwrite=True)) == "FileAlreadyExistsException"
    assert hadoop.read("d/f.txt") == b"replaced"

    stream = hadoop.fs.append(hadoop.path("d/f.txt"))
    stream.write(bytearray(b" + more"))
    stream.close()
    assert hadoop.read("d/f.txt") == b"replaced + more"

    reader = hadoop.fs.open(hadoop.path("d/f.txt"))
    assert java_error(lambda: reader.seek(100)) == "EOFException"
    reader.close()
    assert java_error(lambda: hadoop.fs.getFileStatus(hadoop.path("nope"))) == "FileNotFoundException"
    assert java_error(lambda: hadoop.fs.open(hadoop.path("nope"))) == "FileNotFoundException"
    assert hadoop.tree() == ["d/", "d/f.txt"]


def test_mkdirs_and_delete(hadoop: HadoopFs):
    assert hadoop.fs.mkdirs(hadoop.path("a/b/c"))
    assert hadoop.fs.mkdirs(hadoop.path("a/b"))  # an existing directory is fine
    hadoop.write("a/file", b"x")
    assert java_error(lambda: hadoop.fs.mkdirs(hadoop.path("a/file"))) == "FileAlreadyExistsException"

    # 409 DirectoryNotEmpty, which the driver maps (like every 409) to FileAlreadyExistsException
    assert java_error(lambda: hadoop.fs.delete(hadoop.path("a"), False)) == "FileAlreadyExistsException"
    assert hadoop.fs.delete(hadoop.path("a/file"), False)
    assert not hadoop.fs.delete(hadoop.path("a/file"), False)  # gone: false, no error
    assert hadoop.fs.delete(hadoop.path("a"), True)
    assert hadoop.tree() == []


def test_mkdirs_without_overwrite_reads_the_existing_resource_type(hadoop: HadoopFs):
    """With ``fs.azure.enable.mkdir.overwrite=false`` the driver sends ``If-None-Match: *`` and takes the
    409 as success only if ``x-ms-existing-resource-type`` says directory."""
    jvm = hadoop.spark._jvm
    conf = jvm.org.apache.hadoop.conf.Configuration(hadoop.spark._jsc.hadoopConfiguration())
    conf.set("fs.azure.enable.mkdir.overwrite", "false")
    fs = jvm.org.apache.hadoop.fs.FileSystem.newInstance(jvm.java.net.URI(hadoop.url + "/"), conf)
    try:
        assert fs.mkdirs(hadoop.path("a/b"))
        assert fs.mkdirs(hadoop.path("a/b"))
        hadoop.write("f", b"x")
        assert java_error(lambda: fs.mkdirs(hadoop.path("f"))) == "FileAlreadyExistsException"
    finally:
        fs.close()
    assert hadoop.tree() == ["a/", "a/b/", "f"]


# --- the driver: rename ------------------------------------------------------------------------------
def test_rename_into_existing_directories(hadoop: HadoopFs):
    hadoop.write("src/f.txt", b"f")
    hadoop.write("src/sub/g.txt", b"g")
    assert hadoop.fs.mkdirs(hadoop.path("dst"))

    assert hadoop.rename("src/f.txt", "dst")  # file into an existing directory
    assert hadoop.rename("src/sub", "dst")  # directory into an existing (non-empty) directory
    assert hadoop.tree() == ["dst/", "dst/f.txt", "dst/sub/", "dst/sub/g.txt", "src/"]
    assert hadoop.read("dst/sub/g.txt") == b"g"

    assert hadoop.rename("src", "dst")  # directory into a directory: dst/src
    assert hadoop.tree() == ["dst/", "dst/f.txt", "dst/src/", "dst/sub/", "dst/sub/g.txt"]


def test_rename_onto_existing_entries_returns_false_and_changes_nothing(hadoop: HadoopFs):
    hadoop.write("a.txt", b"a")
    hadoop.write("b.txt", b"b")
    hadoop.write("d/x/inner.txt", b"i")
    assert hadoop.fs.mkdirs(hadoop.path("e/x"))
    before = hadoop.tree()

    assert not hadoop.rename("a.txt", "b.txt")  # ABFS never overwrites a file on rename
    assert not hadoop.rename("d/x", "e")  # e/x exists already
    assert not hadoop.rename("d", "b.txt")  # a directory onto a file
    assert not hadoop.rename("d", "d/x")  # into its own subtree
    assert not hadoop.rename("missing.txt", "c.txt")
    assert not hadoop.rename("a.txt", "no/such/parent/a.txt")
    assert hadoop.tree() == before
    assert hadoop.read("b.txt") == b"b"


def test_rename_onto_itself_and_to_the_root(hadoop: HadoopFs):
    hadoop.write("d/f.txt", b"f")
    hadoop.write("d/sub/g.txt", b"g")

    assert hadoop.rename("d/f.txt", "d/f.txt")  # a file onto itself: true
    assert not hadoop.rename("d", "d")  # a directory onto itself: false
    assert hadoop.rename("d/f.txt", "d")  # into its own parent: nothing to do
    assert hadoop.rename("d/f.txt", "")  # into the root
    assert hadoop.rename("d/sub", "")
    assert hadoop.tree() == ["d/", "f.txt", "sub/", "sub/g.txt"]
    assert hadoop.rename("f.txt", "")  # already in its parent: the driver only checks it exists
    assert not hadoop.rename("", "elsewhere")  # the root itself never moves


def test_driver_keeps_its_transaction_ids_on_created_and_renamed_paths(hadoop: HadoopFs, fresh: Settings):
    hadoop.write("t/created.txt", b"c")
    created = head(fresh, hadoop.name, "t/created.txt")
    hadoop.rename("t/created.txt", "t/renamed.txt")
    renamed = head(fresh, hadoop.name, "t/renamed.txt")

    first = created.headers.get("x-ms-client-transaction-id", "")
    second = renamed.headers.get("x-ms-client-transaction-id", "")
    assert len(first) == len(second) == 36  # UUIDs the driver made up
    assert first != second


# --- the REST rules under the driver and the SDKs --------------------------------------------------
def request(
    settings: Settings,
    method: str,
    filesystem: str,
    path: str,
    query: list[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> RawResponse:
    raw_path = f"/{settings.storage_account}/{filesystem}/{quote(path)}"
    return send(settings, signed_request(settings, method, raw_path, query, headers))


def head(settings: Settings, filesystem: str, path: str) -> RawResponse:
    return request(settings, "HEAD", filesystem, path, [("action", "getStatus")])


def create(settings: Settings, filesystem: str, path: str, resource: str, **headers: str) -> RawResponse:
    sent = {k.replace("_", "-"): v for k, v in headers.items()}
    return request(settings, "PUT", filesystem, path, [("resource", resource)], sent)


def rename(
    settings: Settings, filesystem: str, source: str, destination: str, mode: str | None, **headers: str
) -> RawResponse:
    sent = {"x-ms-rename-source": quote(f"/{filesystem}/{source}")}
    sent |= {k.replace("_", "-"): v for k, v in headers.items()}
    query = [("mode", mode)] if mode else []
    return request(settings, "PUT", filesystem, destination, query, sent)


def layout(settings: Settings, filesystem: str) -> list[str]:
    """Every path of ``filesystem`` as List Paths reports it, directories with a trailing slash."""
    import json

    listing = request(settings, "GET", filesystem, "", [("resource", "filesystem"), ("recursive", "true")])
    paths = json.loads(listing.body)["paths"]
    return sorted(p["name"] + ("/" if p.get("isDirectory") == "true" else "") for p in paths)


@pytest.fixture
def rest_fs(fresh: Settings) -> str:
    """A filesystem holding files ``f`` and ``g``, directory ``src`` (with ``src/x``), empty ``empty`` and
    ``full`` (with ``full/y``)."""
    name = fresh.container("silver")
    for path, resource in [
        ("f", "file"),
        ("g", "file"),
        ("src/x", "file"),
        ("empty", "directory"),
        ("full/y", "file"),
    ]:
        assert create(fresh, name, path, resource).status == 201
    return name


TREE = ["empty/", "f", "full/", "full/y", "g", "src/", "src/x"]


@pytest.mark.parametrize(
    ("source", "destination", "mode", "conditions", "status", "code", "tree"),
    [
        # legacy (the SDKs): the destination name is taken as given
        ("f", "g", "legacy", {}, 201, "", ["empty/", "full/", "full/y", "g", "src/", "src/x"]),
        ("src", "empty", "legacy", {}, 201, "", ["empty/", "empty/x", "f", "full/", "full/y", "g"]),
        ("src", "full", "legacy", {}, 409, "DirectoryNotEmpty", TREE),
        ("f", "empty", "legacy", {}, 409, "InvalidSourceOrDestinationResourceType", TREE),
        ("src", "f", "legacy", {}, 409, "InvalidSourceOrDestinationResourceType", TREE),
        ("f", "g", "legacy", {"if_none_match": "*"}, 409, "PathAlreadyExists", TREE),
        ("src", "empty", "legacy", {"if_none_match": "*"}, 409, "PathAlreadyExists", TREE),
        ("f", "", "legacy", {}, 400, "InvalidDestinationPath", TREE),
        # posix (the default, the ABFS driver): an existing directory receives the source
        ("f", "g", None, {}, 201, "", ["empty/", "full/", "full/y", "g", "src/", "src/x"]),
        ("f", "empty", None, {"if_none_match": "*"}, 201, "", [*TREE[:1], "empty/f", *TREE[2:]]),
        (
            "src",
            "full",
            None,
            {"if_none_match": "*"},
            201,
            "",
            sorted([*TREE[:4], "full/src/", "full/src/x", "g"]),
        ),
        ("src/x", "", "posix", {"if_none_match": "*"}, 201, "", [*TREE[:6], "x"]),
        ("f", "g", None, {"if_none_match": "*"}, 409, "PathAlreadyExists", TREE),
        ("src/x", "src", None, {"if_none_match": "*"}, 409, "PathAlreadyExists", TREE),
        ("src", "src", None, {}, 201, "", TREE),
    ],
)
def test_rename_rules(
    fresh: Settings,
    rest_fs: str,
    source: str,
    destination: str,
    mode: str | None,
    conditions: dict[str, str],
    status: int,
    code: str,
    tree: list[str],
):
    answer = rename(fresh, rest_fs, source, destination, mode, **conditions)

    assert (answer.status, answer.headers.get("x-ms-error-code", "")) == (status, code)
    assert layout(fresh, rest_fs) == tree


def test_racing_renames_into_one_directory_exactly_one_wins(fresh: Settings, rest_fs: str):
    racers = 6
    for i in range(racers):
        assert create(fresh, rest_fs, f"r{i}/part", "file").status == 201
    start = threading.Barrier(racers)
    statuses: list[int] = []

    def race(i: int) -> None:
        start.wait()
        statuses.append(rename(fresh, rest_fs, f"r{i}/part", "empty", None, if_none_match="*").status)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201] + [409] * (racers - 1)
    assert [p for p in layout(fresh, rest_fs) if p.startswith("empty")] == ["empty/", "empty/part"]


def test_conflicts_name_the_existing_resource_type(fresh: Settings, rest_fs: str):
    on_directory = create(fresh, rest_fs, "empty", "directory", if_none_match="*")
    on_file = create(fresh, rest_fs, "f", "file", if_none_match="*")
    renamed_onto_file = rename(fresh, rest_fs, "g", "f", "legacy", if_none_match="*")
    directory_onto_file = create(fresh, rest_fs, "f", "directory")

    answers = [on_directory, on_file, renamed_onto_file, directory_onto_file]
    assert [(a.status, a.headers["x-ms-error-code"]) for a in answers] == [
        (409, "PathAlreadyExists"),
        (409, "PathAlreadyExists"),
        (409, "PathAlreadyExists"),
        (409, "PathConflict"),
    ]
    assert [a.headers.get("x-ms-existing-resource-type") for a in answers] == [
        "directory",
        "file",
        "file",
        "file",
    ]


def test_transaction_id_is_kept_by_create_and_rename(fresh: Settings, rest_fs: str):
    """What makes the driver's retries safe: a retried create or rename that fails (409, or 404 for a source
    already moved) is the driver's own when the path still carries its transaction id."""
    made, moved, directory, moved_directory = (str(uuid.uuid4()) for _ in range(4))
    assert create(fresh, rest_fs, "t.txt", "file", x_ms_client_transaction_id=made).status == 201
    retried = create(fresh, rest_fs, "t.txt", "file", if_none_match="*", x_ms_client_transaction_id=made)
    assert retried.status == 409
    assert head(fresh, rest_fs, "t.txt").headers["x-ms-client-transaction-id"] == made

    assert rename(fresh, rest_fs, "t.txt", "t2.txt", None, x_ms_client_transaction_id=moved).status == 201
    assert rename(fresh, rest_fs, "t.txt", "t2.txt", None, x_ms_client_transaction_id=moved).status == 404
    status = head(fresh, rest_fs, "t2.txt")
    assert status.headers["x-ms-client-transaction-id"] == moved

    assert create(fresh, rest_fs, "d", "directory", x_ms_client_transaction_id=directory).status == 201
    assert head(fresh, rest_fs, "d").headers["x-ms-client-transaction-id"] == directory
    assert rename(fresh, rest_fs, "src", "d2", None, x_ms_client_transaction_id=moved_directory).status == 201
    assert head(fresh, rest_fs, "d2").headers["x-ms-client-transaction-id"] == moved_directory
    # kept private: neither a property nor Blob metadata
    assert status.headers["x-ms-properties"] == ""
    assert [h for h in status.headers if h.startswith("x-ms-meta-")] == []


def test_sdk_rename_replaces_an_empty_directory(filesystem: FileSystemClient):
    fs = filesystem.file_system_name
    filesystem.get_file_client("src/a.txt").upload_data(b"a")
    filesystem.create_directory("empty")
    filesystem.get_file_client("full/b.txt").upload_data(b"b")

    filesystem.get_directory_client("src").rename_directory(f"{fs}/empty")
    with pytest.raises(ResourceExistsError) as not_empty:
        filesystem.get_directory_client("empty").rename_directory(f"{fs}/full")

    assert not_empty.value.error_code == "DirectoryNotEmpty"
    assert sorted(p.name for p in filesystem.get_paths()) == ["empty", "empty/a.txt", "full", "full/b.txt"]
