"""Authentication and name checks: wrong keys, tampered SAS tokens, unsigned writes and bad paths are refused
with the service's status and error code, and nothing is written."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.storage.filedatalake import (
    AccountSasPermissions,
    DataLakeServiceClient,
    FileSystemClient,
    FileSystemSasPermissions,
    ResourceTypes,
    generate_account_sas,
    generate_file_system_sas,
)
from dfs_testkit import send, signed_request

from infra.settings import Settings

pytestmark = pytest.mark.services

WRONG_KEY = base64.b64encode(b"not the account key, but 64 bytes long ....................!!").decode()


def test_wrong_account_key_is_refused_and_nothing_is_written(
    lake_stack: Settings, filesystem: FileSystemClient
):
    wrong = AzureNamedKeyCredential(lake_stack.storage_account, WRONG_KEY)
    with DataLakeServiceClient(lake_stack.dfs_url, credential=wrong) as intruder:
        target = intruder.get_file_system_client(filesystem.file_system_name).get_file_client("x.txt")
        with pytest.raises(ClientAuthenticationError) as refused:
            target.upload_data(b"evil", overwrite=True)
    assert (refused.value.status_code, refused.value.error_code) == (403, "AuthenticationFailed")
    assert not filesystem.get_file_client("x.txt").exists()


def test_sas_tokens_are_verified(lake_stack: Settings, filesystem: FileSystemClient):
    fs_name = filesystem.file_system_name
    filesystem.get_file_client("public/readme.txt").upload_data(b"hi")
    key = lake_stack.storage_key.get_secret_value()
    expiry = datetime.now(UTC) + timedelta(hours=1)
    read_only = generate_file_system_sas(
        lake_stack.storage_account,
        fs_name,
        key,
        FileSystemSasPermissions(read=True, list=True),
        expiry=expiry,
    )

    def sas_client(token: str) -> FileSystemClient:
        return DataLakeServiceClient(lake_stack.dfs_url, credential=token).get_file_system_client(fs_name)

    assert sas_client(read_only).get_file_client("public/readme.txt").download_file().readall() == b"hi"
    assert [p.name for p in sas_client(read_only).get_paths()] == ["public", "public/readme.txt"]

    with pytest.raises(HttpResponseError) as not_allowed:
        sas_client(read_only).get_file_client("public/new.txt").upload_data(b"x", overwrite=True)
    assert (not_allowed.value.status_code, not_allowed.value.error_code) == (
        403,
        "AuthorizationPermissionMismatch",
    )

    upgraded = read_only.replace("sp=rl", "sp=rwl")  # tampered: more permissions than were signed
    with pytest.raises(ClientAuthenticationError) as tampered:
        sas_client(upgraded).get_file_client("public/new.txt").upload_data(b"x", overwrite=True)
    assert (tampered.value.status_code, tampered.value.error_code) == (403, "AuthenticationFailed")

    other = generate_file_system_sas(
        lake_stack.storage_account,
        "landing",
        key,
        FileSystemSasPermissions(read=True, list=True),
        expiry=expiry,
    )
    with pytest.raises(ClientAuthenticationError) as elsewhere:
        sas_client(other).get_file_client("public/readme.txt").download_file()
    assert elsewhere.value.status_code == 403
    assert not filesystem.get_file_client("public/new.txt").exists()

    account_sas = generate_account_sas(
        lake_stack.storage_account,
        key,
        ResourceTypes(file_system=True, object=True),
        AccountSasPermissions(read=True, write=True, create=True, list=True),
        expiry=expiry,
    )
    sas_client(account_sas).get_file_client("public/by-sas.txt").upload_data(b"ok")
    assert filesystem.get_file_client("public/by-sas.txt").download_file().readall() == b"ok"


def test_unsigned_writes_are_refused(lake_stack: Settings, filesystem: FileSystemClient):
    url = f"{lake_stack.dfs_url}/{filesystem.file_system_name}/anon.txt"
    with httpx.Client() as client:
        response = client.put(url, params={"resource": "file"})
        blob_put = client.put(url, headers={"x-ms-blob-type": "BlockBlob"}, content=b"x")
    body_code = json.loads(response.content)["error"]["code"]
    assert (response.status_code, response.headers["x-ms-error-code"], body_code) == (
        401,
        "NoAuthenticationInformation",
        "NoAuthenticationInformation",
    )
    assert blob_put.status_code == 401
    assert not filesystem.get_file_client("anon.txt").exists()


def test_a_request_changed_after_signing_is_refused(lake_stack: Settings, filesystem: FileSystemClient):
    account, fs_name = lake_stack.storage_account, filesystem.file_system_name
    good = signed_request(lake_stack, "PUT", f"/{account}/{fs_name}/signed.txt", [("resource", "file")])
    assert send(lake_stack, good).status == 201

    moved = signed_request(lake_stack, "PUT", f"/{account}/{fs_name}/signed2.txt", [("resource", "file")])
    moved.target = moved.target.replace("signed2.txt", "other.txt")
    assert send(lake_stack, moved).error == (403, "AuthenticationFailed", "AuthenticationFailed")

    wrong_key = base64.b64decode(WRONG_KEY)
    forged = signed_request(
        lake_stack, "PUT", f"/{account}/{fs_name}/k.txt", [("resource", "file")], key=wrong_key
    )
    assert send(lake_stack, forged).error == (403, "AuthenticationFailed", "AuthenticationFailed")
    assert [p.name for p in filesystem.get_paths()] == ["signed.txt"]


@pytest.mark.parametrize(
    "raw_path",
    [
        "/{account}/{fs}/a/../b.txt",
        "/{account}/{fs}/a/%2E%2E/b.txt",
        "/{account}/{fs}/a%2F..%2Fb.txt",
        "/{account}/{fs}/a//b.txt",
        "/{account}/{fs}/a/%00/b.txt",
        "/{account}/Bad_Filesystem/b.txt",
    ],
)
def test_bad_paths_are_refused(lake_stack: Settings, filesystem: FileSystemClient, raw_path: str):
    path = raw_path.format(account=lake_stack.storage_account, fs=filesystem.file_system_name)
    response = send(lake_stack, signed_request(lake_stack, "PUT", path, [("resource", "file")]))
    assert response.error == (400, "InvalidResourceName", "InvalidResourceName")
    assert [p.name for p in filesystem.get_paths()] == []


def test_oversized_headers_are_refused(lake_stack: Settings, filesystem: FileSystemClient):
    path = f"/{lake_stack.storage_account}/{filesystem.file_system_name}/big.txt"
    huge = {"x-ms-properties": "k=" + "A" * 12_000}
    response = send(lake_stack, signed_request(lake_stack, "PUT", path, [("resource", "file")], headers=huge))
    assert response.error == (400, "InvalidHeaderValue", "InvalidHeaderValue")
    assert not filesystem.get_file_client("big.txt").exists()
