"""What ``make conformance`` found missing, kept in the suite: leases on create and with x-ms-lease-action,
append+flush status, expiry, encryption context, beginFrom, conditions on tags, retention limits, $logs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import HttpResponseError, ResourceModifiedError
from azure.storage.filedatalake import DataLakeServiceClient, FileSystemClient, RetentionPolicy

pytestmark = pytest.mark.services

LEASE = "5f0b6c5e-1d1b-4c64-9a39-2d6a4f4f0a11"


def lease_of(filesystem: FileSystemClient, path: str) -> tuple[str, str | None]:
    lease = filesystem.get_file_client(path).get_file_properties().lease
    return lease.state, lease.duration


def test_create_with_a_proposed_lease_leaves_the_path_leased(filesystem: FileSystemClient):
    filesystem.get_file_client("f.txt").create_file(lease_id=LEASE, lease_duration=15)
    filesystem.get_directory_client("d").create_directory(lease_id=LEASE, lease_duration=-1)

    assert lease_of(filesystem, "f.txt") == ("leased", "fixed")
    assert filesystem.get_directory_client("d").get_directory_properties().lease.duration == "infinite"


def test_lease_actions_on_append_and_flush(filesystem: FileSystemClient):
    file = filesystem.get_file_client("f.txt")
    file.create_file()

    file.append_data(b"ab", 0, 2, lease_action="acquire", lease_duration=30, lease=LEASE)
    assert lease_of(filesystem, "f.txt") == ("leased", "fixed")
    file.flush_data(2, lease_action="auto-renew", lease=LEASE)
    assert lease_of(filesystem, "f.txt") == ("leased", "fixed")
    file.append_data(b"cd", 2, 2, flush=True, lease_action="release", lease=LEASE)  # the SDK wants 202 here
    assert lease_of(filesystem, "f.txt") == ("available", None)
    file.append_data(b"ef", 4, 2, flush=True, lease_action="acquire-release", lease=LEASE)

    assert (lease_of(filesystem, "f.txt"), file.download_file().readall()) == (("available", None), b"abcdef")


def test_expiry_and_encryption_context_are_kept_and_reported(filesystem: FileSystemClient):
    file = filesystem.get_file_client("f.txt")
    file.create_file(expires_on=86_400_000, encryption_context="ctx-1")  # one day from now, in ms

    properties = file.get_file_properties()
    expected = properties.creation_time + timedelta(days=1)
    assert abs(properties.expiry_time - expected) < timedelta(seconds=60)
    assert properties.encryption_context == "ctx-1"
    assert file.download_file().properties.encryption_context == "ctx-1"
    [listed] = filesystem.get_paths()
    assert (
        listed.encryption_context,
        abs(listed.expiry_time - properties.expiry_time) <= timedelta(seconds=1),
    ) == (
        "ctx-1",
        True,
    )

    at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    file.set_file_expiry("Absolute", expires_on=at)
    assert file.get_file_properties().expiry_time == at
    file.set_file_expiry("NeverExpire")
    assert file.get_file_properties().expiry_time is None


def test_list_paths_begins_from_a_relative_path(filesystem: FileSystemClient):
    for name in ("d/a/1", "d/a/2", "d/b/3", "e/4"):
        filesystem.get_file_client(name).create_file()

    listed = [p.name for p in filesystem.get_directory_client("d").get_paths(start_from="a/2", max_results=1)]

    assert listed == ["d/a/2", "d/b", "d/b/3"]


def test_tag_conditions_are_evaluated(filesystem: FileSystemClient):
    file = filesystem.get_file_client("f.txt")
    created = file.create_file()
    early = file.get_file_properties().last_modified - timedelta(seconds=1)

    with pytest.raises(ResourceModifiedError):
        file.set_tags({"a": "1"}, if_unmodified_since=early)
    file.set_tags({"a": "1"}, if_modified_since=early)
    with pytest.raises(ResourceModifiedError):
        file.get_tags(if_modified_since=file.get_file_properties().last_modified + timedelta(seconds=1))
    assert file.get_tags(if_unmodified_since=datetime.now(UTC) + timedelta(minutes=1)) == {"a": "1"}
    assert file.get_file_properties().etag == created["etag"]


def test_retention_policies_keep_1_to_365_days(dfs_service: DataLakeServiceClient):
    for days in (0, 366):
        with pytest.raises(HttpResponseError) as refused:
            dfs_service.set_service_properties(
                delete_retention_policy=RetentionPolicy(enabled=True, days=days)
            )
        assert (refused.value.status_code, refused.value.error_code) == (400, "InvalidXmlNodeValue")


def test_the_logs_container_is_listed_only_with_system_containers(dfs_service: DataLakeServiceClient):
    assert "$logs" in [fs.name for fs in dfs_service.list_file_systems(include_system=True)]
    assert "$logs" not in [fs.name for fs in dfs_service.list_file_systems()]
    assert "$logs" not in [fs.name for fs in dfs_service._client.service.list_file_systems()]  # the DFS API
