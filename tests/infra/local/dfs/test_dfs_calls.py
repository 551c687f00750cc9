"""What one DFS operation costs in Azurite calls (the opt-in ``--count-calls`` tally), and the shortcuts that
keep a small-file create at four calls staying correct when something changed behind the endpoint's back."""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.storage.blob import BlobServiceClient
from azure.storage.filedatalake import FileSystemClient

from infra.local.launcher import Launcher, free_port, running
from infra.settings import Settings
from infra.storage.lake import credential_for


@pytest.fixture(scope="module")
def counting_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A private Azurite + DFS endpoint started with ``--count-calls``."""
    from infra.local.services import azurite_spec, dfs_spec

    settings = Settings(
        state_dir=tmp_path_factory.mktemp("counting-stack"), blob_port=free_port(), dfs_port=free_port()
    )
    dfs = dfs_spec(settings)
    dfs = dataclasses.replace(dfs, command=[*dfs.command, "--count-calls"])
    with running(Launcher(settings.state_dir), [azurite_spec(settings), dfs]):
        yield settings


def stats(settings: Settings, method: str = "GET") -> dict:
    url = f"http://{settings.host}:{settings.dfs_port}/_stats"
    with urllib.request.urlopen(urllib.request.Request(url, method=method)) as response:
        return json.loads(response.read())


def test_a_small_file_create_costs_three_requests_and_four_azurite_calls(counting_stack: Settings):
    from azure.storage.filedatalake import DataLakeServiceClient

    with DataLakeServiceClient(counting_stack.dfs_url, credential=credential_for(counting_stack)) as lake:
        filesystem = lake.get_file_system_client("counted")
        filesystem.create_file_system()
        filesystem.create_directory("events")
        stats(counting_stack, "DELETE")
        file = filesystem.get_file_client("events/e1.json")
        file.create_file()
        file.append_data(b'{"a": 1}', offset=0, length=8)
        file.flush_data(8)

        counted = stats(counting_stack)
        assert file.download_file().readall() == b'{"a": 1}'

    assert counted == {
        "PUT resource=file": {"requests": 1, "blob_calls": {"GET comp=list": 1, "PUT": 1}},
        "PATCH action=append": {"requests": 1, "blob_calls": {"PUT comp=block": 1}},
        # The endpoint staged the block itself: Put Block List with If-Match, no Get Block List first.
        "PATCH action=flush": {"requests": 1, "blob_calls": {"PUT comp=blocklist": 1}},
    }
    assert stats(counting_stack, "DELETE") == {}


def test_a_file_rename_onto_a_new_name_costs_five_azurite_calls(counting_stack: Settings):
    from azure.storage.filedatalake import DataLakeServiceClient

    with DataLakeServiceClient(counting_stack.dfs_url, credential=credential_for(counting_stack)) as lake:
        filesystem = lake.get_file_system_client("renamed")
        filesystem.create_file_system()
        filesystem.create_directory("table/_delta_log")
        temporary = filesystem.get_file_client("table/_delta_log/.00000.json.tmp")
        temporary.upload_data(b'{"commitInfo": {}}')
        stats(counting_stack, "DELETE")
        # As Delta commits: a destination that does not exist yet (the SDK sends mode=legacy; the ABFS
        # driver's posix mode costs the same, bench/bench_dfs.py counts a Spark commit's calls).
        temporary.rename_file("renamed/table/_delta_log/00000.json")
        counted = stats(counting_stack)
        stats(counting_stack, "DELETE")

        names = [p.name for p in filesystem.get_paths("table/_delta_log")]
        assert names == ["table/_delta_log/00000.json"]
        committed = filesystem.get_file_client("table/_delta_log/00000.json")
        assert committed.download_file().readall() == b'{"commitInfo": {}}'
    # The destination looked up once (blob, then implicit directory), the source once; the parent is a
    # directory the endpoint made. Then Copy Blob and the source's delete.
    assert counted == {
        "PUT rename": {
            "requests": 1,
            "blob_calls": {"HEAD": 2, "GET comp=list": 1, "PUT": 1, "DELETE": 1},
        },
    }


def test_a_flush_after_a_change_in_azurite_looks_the_file_up(counting_stack: Settings):
    from azure.storage.filedatalake import DataLakeServiceClient

    credential = credential_for(counting_stack)
    with (
        DataLakeServiceClient(counting_stack.dfs_url, credential=credential) as lake,
        BlobServiceClient(counting_stack.blob_url, credential=credential) as azurite,
    ):
        filesystem = lake.get_file_system_client("changed")
        filesystem.create_file_system()
        file = filesystem.get_file_client("f.txt")
        file.create_file()
        file.append_data(b"abc", offset=0, length=3)
        azurite.get_blob_client("changed", "f.txt").set_blob_metadata({"by": "azurite"})  # a new ETag
        stats(counting_stack, "DELETE")
        file.flush_data(3)
        counted = stats(counting_stack)
        stats(counting_stack, "DELETE")

        assert file.download_file().readall() == b"abc"
        assert file.get_file_properties().metadata == {"by": "azurite"}
    # The flush from its own writes was refused (412), then the general way: properties, blocks, commit.
    assert counted == {
        "PATCH action=flush": {
            "requests": 1,
            "blob_calls": {"PUT comp=blocklist": 2, "HEAD": 1, "GET comp=blocklist": 1},
        },
    }


def test_the_tally_is_not_served_unless_asked_for(lake_stack: Settings):
    url = f"http://{lake_stack.host}:{lake_stack.dfs_port}/_stats"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url)
    # Without --count-calls the path is an ordinary request, naming an account "_stats".
    assert (refused.value.code, refused.value.headers["x-ms-error-code"]) == (400, "InvalidResourceName")


def test_flush_keeps_what_was_changed_straight_in_azurite(
    filesystem: FileSystemClient, azurite_blobs: BlobServiceClient
):
    file = filesystem.get_file_client("d/f.txt")
    file.create_file(content_settings=None, metadata={"origin": "dfs"})
    blob = azurite_blobs.get_blob_client(filesystem.file_system_name, "d/f.txt")
    blob.set_blob_metadata({"origin": "azurite"})  # behind the endpoint's back: what it remembers is stale

    file.append_data(b"abc", offset=0, length=3)
    file.flush_data(3)

    assert file.download_file().readall() == b"abc"
    assert blob.get_blob_properties().metadata == {"origin": "azurite"}
    assert blob.get_blob_properties().content_settings.content_type == "application/octet-stream"


def test_a_flush_of_a_file_deleted_straight_in_azurite_is_refused_as_not_found(
    filesystem: FileSystemClient, azurite_blobs: BlobServiceClient
):
    file = filesystem.get_file_client("gone.txt")
    file.create_file()
    file.append_data(b"abc", offset=0, length=3)
    azurite_blobs.get_blob_client(filesystem.file_system_name, "gone.txt").delete_blob()  # blocks go too

    with pytest.raises(HttpResponseError) as flushed:
        file.flush_data(3)
    assert (flushed.value.status_code, flushed.value.error_code) == (404, "PathNotFound")
    assert [p.name for p in filesystem.get_paths()] == []


def test_a_file_replaced_by_a_directory_is_not_appended_to(filesystem: FileSystemClient):
    file = filesystem.get_file_client("p")
    file.create_file()
    file.delete_file()
    filesystem.create_directory("p")

    with pytest.raises(HttpResponseError) as appended:
        file.append_data(b"x", offset=0, length=1)
    assert (appended.value.status_code, appended.value.error_code) == (409, "ResourceTypeMismatch")
    with pytest.raises(HttpResponseError) as flushed:
        file.flush_data(0)
    assert (flushed.value.status_code, flushed.value.error_code) == (409, "ResourceTypeMismatch")


def test_a_file_is_not_created_over_an_implicit_directory(
    filesystem: FileSystemClient, azurite_blobs: BlobServiceClient
):
    container = azurite_blobs.get_container_client(filesystem.file_system_name)
    container.upload_blob("implicit/inner.json", b"{}")  # straight into Azurite: no directory marker

    with pytest.raises(ResourceExistsError) as conflict:
        filesystem.get_file_client("implicit").create_file()
    assert (conflict.value.status_code, conflict.value.error_code) == (409, "PathConflict")
    assert [b.name for b in container.list_blobs()] == ["implicit/inner.json"]


def test_create_over_an_existing_file_empties_it_and_flushes_again(filesystem: FileSystemClient):
    file = filesystem.get_file_client("again.txt")
    file.upload_data(b"first version")
    file.create_file()  # no condition: overwrite, as the ABFS driver's create(overwrite=true)
    file.append_data(b"v2", offset=0, length=2)
    file.flush_data(2)

    assert file.download_file().readall() == b"v2"
    assert file.get_file_properties().size == 2
