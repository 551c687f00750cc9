"""The DFS endpoint judged by the unmodified DataLake SDK, and the same data seen through the Blob API."""

from __future__ import annotations

import threading
import uuid

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import BlobServiceClient
from azure.storage.filedatalake import DataLakeFileClient, DataLakeServiceClient, FileSystemClient

pytestmark = pytest.mark.services


def names(fs: FileSystemClient, path: str | None = None, recursive: bool = True) -> list[tuple[str, bool]]:
    return [(p.name, bool(p.is_directory)) for p in fs.get_paths(path=path, recursive=recursive)]


def acl_of(client: DataLakeFileClient) -> dict[str, str]:
    answer = client.get_access_control()
    return {key: answer[key] for key in ("owner", "group", "permissions", "acl")}


# --- filesystems --------------------------------------------------------------------------------------
def test_filesystem_create_properties_list_and_delete_through_the_dfs_api(dfs_service: DataLakeServiceClient):
    name = f"fs-{uuid.uuid4().hex[:10]}"
    fs = dfs_service.get_file_system_client(name)
    generated = (
        fs._client.file_system
    )  # the SDK's own DFS-REST operations (PUT/HEAD/PATCH ?resource=filesystem)

    generated.create(properties="zone=Z29sZA==")
    with pytest.raises(ResourceExistsError) as conflict:
        generated.create()
    assert conflict.value.response.headers["x-ms-error-code"] == "FilesystemAlreadyExists"

    headers = generated.get_properties(cls=lambda response, body, headers: headers)
    assert headers["x-ms-properties"] == "zone=Z29sZA=="
    assert headers["x-ms-namespace-enabled"] == "true"
    generated.set_properties(properties="zone=c2lsdmVy")
    assert fs.get_file_system_properties().metadata == {"zone": "silver"}

    listed = dfs_service._client.service.list_file_systems(prefix=name)
    assert [f.name for f in listed] == [name]

    generated.delete()
    with pytest.raises(ResourceNotFoundError) as missing:
        generated.get_properties()
    assert missing.value.status_code == 404


# --- create, append, flush, read -----------------------------------------------------------------------
def test_create_file_makes_missing_parent_directories(filesystem: FileSystemClient):
    filesystem.get_file_client("a/b/c.txt").upload_data(b"hello")

    assert names(filesystem) == [("a", True), ("a/b", True), ("a/b/c.txt", False)]
    assert names(filesystem, "a", recursive=False) == [("a/b", True)]
    assert filesystem.get_file_client("a/b/c.txt").download_file().readall() == b"hello"
    assert filesystem.get_directory_client("a/b").get_directory_properties().name == "a/b"


def test_conditional_create_conflicts(filesystem: FileSystemClient):
    file = filesystem.get_file_client("data/x.bin")
    created = file.create_file()

    with pytest.raises(ResourceExistsError) as exists:
        file.create_file(match_condition=MatchConditions.IfMissing)
    assert (exists.value.status_code, exists.value.error_code) == (409, "PathAlreadyExists")

    with pytest.raises(ResourceModifiedError) as stale:
        file.create_file(match_condition=MatchConditions.IfNotModified, etag='"0x8D000000000000"')
    assert (stale.value.status_code, stale.value.error_code) == (412, "ConditionNotMet")

    file.create_file(match_condition=MatchConditions.IfNotModified, etag=created["etag"])
    directory = filesystem.get_directory_client("data")
    with pytest.raises(ResourceExistsError) as dir_exists:
        directory.create_directory(match_condition=MatchConditions.IfMissing)
    assert dir_exists.value.error_code == "PathAlreadyExists"
    with pytest.raises(ResourceExistsError) as conflict:
        filesystem.get_directory_client("data/x.bin/sub").create_directory()
    assert conflict.value.error_code == "PathConflict"


def test_append_at_positions_then_flush_and_ranged_read(filesystem: FileSystemClient):
    file = filesystem.get_file_client("f.txt")
    file.create_file()
    file.append_data(b"abc", offset=0, length=3)
    file.append_data(b"defg", offset=3, length=4)
    file.flush_data(7)
    file.append_data(b"XY", offset=7, length=2)
    file.flush_data(9)

    assert file.download_file().readall() == b"abcdefgXY"
    assert file.download_file(offset=2, length=4).readall() == b"cdef"
    assert file.get_file_properties().size == 9


def test_append_at_wrong_position_is_refused(filesystem: FileSystemClient):
    file = filesystem.get_file_client("f.txt")
    file.create_file()
    file.append_data(b"abc", offset=0, length=3)
    file.append_data(b"xyz", offset=10, length=3)  # leaves a gap: only the flush can tell

    with pytest.raises(HttpResponseError) as gap:
        file.flush_data(13)
    assert (gap.value.status_code, gap.value.error_code) == (400, "InvalidFlushPosition")

    file.flush_data(3)
    file.append_data(b"q", offset=1, length=1)  # overlaps committed data
    with pytest.raises(HttpResponseError) as overlap:
        file.flush_data(4)
    assert (overlap.value.status_code, overlap.value.error_code) == (400, "InvalidFlushPosition")
    assert file.download_file().readall() == b"abc"


def test_upload_without_overwrite_creates_once(filesystem: FileSystemClient):
    file = filesystem.get_file_client("new/once.txt")
    file.upload_data(b"first")

    with pytest.raises(ResourceExistsError) as exists:
        file.upload_data(b"second")
    assert exists.value.error_code == "PathAlreadyExists"
    assert file.download_file().readall() == b"first"
    assert names(filesystem) == [("new", True), ("new/once.txt", False)]


def test_status_access_control_and_properties(filesystem: FileSystemClient):
    file = filesystem.get_file_client("d/f.csv")
    file.create_file(metadata={"source": "crm", "load_id": "42"})

    assert file.get_file_properties().metadata == {"source": "crm", "load_id": "42"}
    assert acl_of(file) == {
        "owner": "$superuser",
        "group": "$superuser",
        "permissions": "rw-r-----",
        "acl": "user::rw-,group::r--,other::---",
    }
    file.set_access_control(owner="alice", group="analysts", permissions="rwxr-x---")
    acl = "user::rwx,group::r--,mask::r-x,other::---,user:bob:r-x"
    file.set_access_control(acl=acl)
    assert acl_of(file) == {
        "owner": "alice",
        "group": "analysts",
        "permissions": "rwxr-x---",
        "acl": acl,
    }
    assert filesystem.get_directory_client("d").get_access_control()["permissions"] == "rwxr-x---"

    file.set_metadata({"stage": "bronze"})  # Blob API: must keep the ACL, which lives beside it
    assert file.get_file_properties().metadata == {"stage": "bronze"}
    assert acl_of(file)["owner"] == "alice"
    directory = filesystem.get_directory_client("d")
    directory.set_metadata({"zone": "landing"})
    assert directory.get_directory_properties().metadata == {"zone": "landing", "hdi_isfolder": "true"}
    assert names(filesystem) == [("d", True), ("d/f.csv", False)]


# --- listing ----------------------------------------------------------------------------------------
def test_list_pages_past_max_results(filesystem: FileSystemClient):
    expected = [f"p/f{i:02d}" for i in range(23)]
    for name in expected:
        filesystem.create_file(name)
    filesystem.create_directory("p/sub")

    pages = [[p.name for p in page] for page in filesystem.get_paths(path="p", max_results=10).by_page()]

    assert [len(page) for page in pages] == [10, 10, 4]
    assert [name for page in pages for name in page] == [*expected, "p/sub"]


def test_list_missing_directory_is_path_not_found(filesystem: FileSystemClient):
    with pytest.raises(ResourceNotFoundError) as missing:
        list(filesystem.get_paths(path="nope"))
    assert missing.value.error_code == "PathNotFound"


# --- rename -----------------------------------------------------------------------------------------
def test_rename_file_and_directory_with_many_children(filesystem: FileSystemClient):
    for i in range(60):
        filesystem.get_file_client(f"src/part={i % 3}/f{i:02d}.txt").upload_data(str(i).encode())
    filesystem.create_directory("dst")

    filesystem.get_directory_client("src").rename_directory(f"{filesystem.file_system_name}/dst/moved")

    moved = names(filesystem, "dst/moved")
    assert len([n for n, is_dir in moved if not is_dir]) == 60
    assert [n for n, is_dir in moved if is_dir] == [
        "dst/moved/part=0",
        "dst/moved/part=1",
        "dst/moved/part=2",
    ]
    assert filesystem.get_file_client("dst/moved/part=2/f59.txt").download_file().readall() == b"59"
    assert not filesystem.get_directory_client("src").exists()

    filesystem.get_file_client("dst/moved/part=0/f00.txt").rename_file(
        f"{filesystem.file_system_name}/dst/f.txt"
    )
    assert filesystem.get_file_client("dst/f.txt").download_file().readall() == b"0"
    assert not filesystem.get_file_client("dst/moved/part=0/f00.txt").exists()


def test_rename_error_semantics(filesystem: FileSystemClient):
    fs = filesystem.file_system_name
    filesystem.get_file_client("a.txt").upload_data(b"a")
    filesystem.get_file_client("b.txt").upload_data(b"b")

    with pytest.raises(ResourceExistsError) as exists:
        filesystem.get_file_client("a.txt").rename_file(f"{fs}/b.txt", if_none_match="*")
    assert exists.value.error_code == "PathAlreadyExists"
    with pytest.raises(ResourceNotFoundError) as no_source:
        filesystem.get_file_client("missing.txt").rename_file(f"{fs}/c.txt")
    assert no_source.value.error_code == "SourcePathNotFound"
    with pytest.raises(ResourceNotFoundError) as no_parent:
        filesystem.get_file_client("a.txt").rename_file(f"{fs}/no/such/dir/a.txt")
    assert no_parent.value.error_code == "RenameDestinationParentPathNotFound"
    filesystem.create_directory("d")
    with pytest.raises(ResourceExistsError) as into_itself:
        filesystem.get_directory_client("d").rename_directory(f"{fs}/d/inner")
    assert into_itself.value.error_code == "InvalidRenameSourcePath"

    filesystem.get_file_client("a.txt").rename_file(f"{fs}/b.txt")  # no condition: replaces the file
    assert filesystem.get_file_client("b.txt").download_file().readall() == b"a"


def test_racing_renames_onto_one_destination_exactly_one_wins(filesystem: FileSystemClient):
    fs = filesystem.file_system_name
    racers = 8
    for i in range(racers):
        filesystem.get_file_client(f"_delta_log/.00007.json.{i}.tmp").upload_data(f"writer {i}".encode())
    outcomes: list[str] = []
    start = threading.Barrier(racers)

    def race(i: int) -> None:
        client = filesystem.get_file_client(f"_delta_log/.00007.json.{i}.tmp")
        start.wait()
        try:
            client.rename_file(f"{fs}/_delta_log/00007.json", if_none_match="*")
            outcomes.append(f"won {i}")
        except ResourceExistsError as error:
            outcomes.append(error.error_code or "")

    threads = [threading.Thread(target=race, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [o for o in outcomes if o.startswith("won")]
    assert len(winners) == 1
    assert sorted(o for o in outcomes if not o.startswith("won")) == ["PathAlreadyExists"] * (racers - 1)
    winner = int(winners[0].split()[1])
    assert (
        filesystem.get_file_client("_delta_log/00007.json").download_file().readall()
        == f"writer {winner}".encode()
    )
    left = sorted(n for n, _ in names(filesystem, "_delta_log"))
    assert left == sorted(
        ["_delta_log/00007.json"] + [f"_delta_log/.00007.json.{i}.tmp" for i in range(racers) if i != winner]
    )


# --- delete -----------------------------------------------------------------------------------------
def test_delete_file_and_directories(filesystem: FileSystemClient):
    for name in ("d/x.txt", "d/e/y.txt"):
        filesystem.get_file_client(name).upload_data(b"1")

    with pytest.raises(ResourceExistsError) as not_empty:
        filesystem.get_directory_client("d")._delete(recursive=False)
    assert (not_empty.value.status_code, not_empty.value.error_code) == (409, "DirectoryNotEmpty")

    filesystem.get_file_client("d/x.txt").delete_file()
    filesystem.get_directory_client("d").delete_directory()
    assert names(filesystem) == []
    with pytest.raises(ResourceNotFoundError) as missing:
        filesystem.get_file_client("d/x.txt").delete_file()
    assert missing.value.error_code == "PathNotFound"


# --- the Blob view ----------------------------------------------------------------------------------
def test_blob_clients_see_the_adls_layout(filesystem: FileSystemClient, azurite_blobs: BlobServiceClient):
    filesystem.get_file_client("zone/table/part-0.parquet").upload_data(b"PAR1")
    filesystem.create_directory("zone/empty")
    container = azurite_blobs.get_container_client(filesystem.file_system_name)

    blobs = {b.name: (b.size, b.metadata) for b in container.list_blobs(include=["metadata"])}

    assert blobs == {
        "zone": (0, {"hdi_isfolder": "true"}),
        "zone/empty": (0, {"hdi_isfolder": "true"}),
        "zone/table": (0, {"hdi_isfolder": "true"}),
        "zone/table/part-0.parquet": (4, {}),
    }
    assert container.download_blob("zone/table/part-0.parquet").readall() == b"PAR1"


def test_blobs_written_straight_into_azurite_appear_with_implicit_directories(
    filesystem: FileSystemClient, azurite_blobs: BlobServiceClient
):
    container = azurite_blobs.get_container_client(filesystem.file_system_name)
    container.upload_blob("ext/2024/01/a.json", b"{}")
    container.upload_blob("ext/2024/02/b.json", b"[]")

    assert names(filesystem) == [
        ("ext", True),
        ("ext/2024", True),
        ("ext/2024/01", True),
        ("ext/2024/01/a.json", False),
        ("ext/2024/02", True),
        ("ext/2024/02/b.json", False),
    ]
    assert names(filesystem, "ext/2024", recursive=False) == [("ext/2024/01", True), ("ext/2024/02", True)]
    assert filesystem.get_directory_client("ext/2024").get_access_control()["permissions"] == "rwxr-x---"
