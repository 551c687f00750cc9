"""Clients other than the Python DataLake SDK against the DFS endpoint (issue 12): pyarrow's AzureFileSystem
(the Azure C++ SDK, in its own process), adlfs (fsspec, Blob API on the DFS port), the Python Blob SDK,
delta-rs and the JavaScript DataLake SDK (Node). Each runs one realistic sequence; answers are compared
exactly."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import adlfs
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient
from azure.storage.filedatalake import FileSystemClient
from dfs_testkit import send, signed_request

from infra.settings import PROJECT_ROOT, Settings
from infra.storage.lake import credential_for

pytestmark = pytest.mark.services

CLIENTS = Path(__file__).parent / "clients"
CSV = "id,amount\n1,9.5\n"


def _key(settings: Settings) -> str:
    assert settings.storage_key is not None
    return settings.storage_key.get_secret_value()


def _run(command: list[str], timeout: float = 90) -> dict[str, object]:
    """Run a client script; it must exit 0 and print nothing but its JSON (no crash, no stack trace)."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=PROJECT_ROOT)
    assert (done.returncode, done.stderr) == (0, ""), done.stdout
    return json.loads(done.stdout)


def test_a_failed_head_has_no_body_and_no_content_type(lake_stack: Settings, filesystem: FileSystemClient):
    path = f"/{lake_stack.storage_account}/{filesystem.file_system_name}/nope.csv"
    for query in ([("action", "getStatus")], []):
        response = send(lake_stack, signed_request(lake_stack, "HEAD", path, query))
        assert response.status == 404
        assert (response.headers.get("content-length"), response.body) == ("0", b"")
        assert "content-type" not in response.headers
    assert response.headers["x-ms-error-code"] == "BlobNotFound"  # a bare HEAD is Get Blob Properties


def test_pyarrow_azure_filesystem(lake_stack: Settings):
    filesystem = f"pa-{uuid.uuid4().hex[:12]}"
    seen = _run(
        [
            sys.executable,
            str(CLIENTS / "pyarrow_steps.py"),
            f"{lake_stack.host}:{lake_stack.dfs_port}",
            lake_stack.storage_account,
            _key(lake_stack),
            filesystem,
        ]
    )
    assert seen == {
        "list": [["raw", "Directory"], ["raw/2024", "Directory"], ["raw/2024/orders.csv", "File"]],
        "stat": ["File", len(CSV)],
        "stat_directory": "Directory",
        "read": CSV,
        "missing": "NotFound",
        "missing_read": "FileNotFoundError",
        "missing_delete": "FileNotFoundError",
        "after_renames": [
            ["raw", "Directory"],
            ["raw/y2024", "Directory"],
            ["raw/y2024/orders-renamed.csv", "File"],
        ],
        "parquet": {"amount": [1.5, 2.5, 4.0], "zone": ["eu", "eu", "us"]},
        "after_deletes": [],
    }


def test_javascript_datalake_sdk(lake_stack: Settings):
    first, second = f"js-{uuid.uuid4().hex[:12]}", f"js-{uuid.uuid4().hex[:12]}"
    seen = _run(
        [
            "node",
            str(CLIENTS / "datalake_steps.mjs"),
            lake_stack.dfs_url,
            lake_stack.storage_account,
            _key(lake_stack),
            first,
            second,
        ]
    )
    assert seen == {
        "list": [["raw", True], ["raw/2024", True], ["raw/2024/orders.csv", False]],
        "stat": {"size": len(CSV), "isDirectory": False},
        "read": CSV,
        # getProperties and read go through the SDK's Blob client, as they do on Azure.
        "missing": {"status": 404, "code": "BlobNotFound"},
        "missingExists": False,
        "missingRead": {"status": 404, "code": "BlobNotFound"},
        "afterRenames": [["raw", True], ["raw/y2024", True], ["raw/y2024/orders-renamed.csv", False]],
        "acrossFilesystems": {
            "source": [["raw", True], ["raw/y2024", True]],
            "destination": [["moved.csv", False]],
        },
        "readMoved": CSV,
        "afterDeletes": {"source": [], "destination": []},
        "missingDelete": {"status": 404, "code": "PathNotFound"},
    }


def test_adlfs_on_the_dfs_port(lake_stack: Settings):
    connection = (
        f"DefaultEndpointsProtocol=http;AccountName={lake_stack.storage_account};"
        f"AccountKey={_key(lake_stack)};BlobEndpoint={lake_stack.dfs_url};"
    )
    fs = adlfs.AzureBlobFileSystem(connection_string=connection, skip_instance_cache=True)
    root = f"ad-{uuid.uuid4().hex[:12]}"
    fs.mkdir(root)
    fs.pipe_file(f"{root}/raw/2024/orders.csv", CSV.encode())

    assert fs.find(root, withdirs=True) == [f"{root}/raw", f"{root}/raw/2024", f"{root}/raw/2024/orders.csv"]
    assert fs.ls(f"{root}/raw", detail=False) == [f"{root}/raw/2024"]
    assert (fs.info(f"{root}/raw/2024/orders.csv")["size"], fs.info(f"{root}/raw")["type"]) == (
        16,
        "directory",
    )
    assert fs.cat_file(f"{root}/raw/2024/orders.csv") == CSV.encode()
    assert not fs.exists(f"{root}/raw/nope.csv")
    with pytest.raises(FileNotFoundError):
        fs.cat_file(f"{root}/raw/nope.csv")

    fs.mv(f"{root}/raw/2024/orders.csv", f"{root}/raw/2024/orders-renamed.csv")
    fs.mv(f"{root}/raw/2024", f"{root}/raw/y2024", recursive=True)
    assert fs.find(root, withdirs=True) == [
        f"{root}/raw",
        f"{root}/raw/y2024",
        f"{root}/raw/y2024/orders-renamed.csv",
    ]

    table = pa.table({"zone": ["eu", "eu", "us"], "amount": [1.5, 2.5, 4.0]})
    ds.write_dataset(table, f"{root}/sales", filesystem=fs, format="parquet", partitioning=["zone"])
    read = ds.dataset(f"{root}/sales", filesystem=fs, format="parquet", partitioning=["zone"])
    assert read.to_table().sort_by("amount").to_pydict() == table.to_pydict()

    fs.rm(f"{root}/raw", recursive=True)
    assert fs.find(root, withdirs=True) == [
        f"{root}/sales",
        f"{root}/sales/eu",
        f"{root}/sales/eu/part-0.parquet",
        f"{root}/sales/us",
        f"{root}/sales/us/part-0.parquet",
    ]
    fs.rm(root, recursive=True)


def test_python_blob_sdk_on_the_dfs_port(lake_stack: Settings, filesystem: FileSystemClient):
    filesystem.get_file_client("d/e/f.txt").upload_data(b"x")
    with BlobServiceClient(lake_stack.dfs_url, credential=credential_for(lake_stack)) as blobs:
        container = blobs.get_container_client(filesystem.file_system_name)
        container.upload_blob("implicit/x.bin", b"1")  # Blob writes get real parent directories

        directory = container.get_blob_client("d").get_blob_properties()
        assert (directory.blob_type, directory.size, directory.metadata) == (
            "BlockBlob",
            0,
            {"hdi_isfolder": "true"},
        )
        with pytest.raises(ResourceNotFoundError) as missing:
            container.get_blob_client("d/nope").get_blob_properties()
        assert missing.value.error_code == "BlobNotFound"
        with pytest.raises(ResourceNotFoundError) as missing_read:
            container.download_blob("d/nope").readall()
        assert missing_read.value.error_code == "BlobNotFound"

        with pytest.raises(HttpResponseError) as not_empty:
            container.delete_blob("d")
        assert (not_empty.value.status_code, not_empty.value.error_code) == (409, "DirectoryIsNotEmpty")
        container.delete_blob("d/e/f.txt")  # the SDK raises unless Azure's 202 comes back
        with pytest.raises(ResourceNotFoundError) as missing_delete:
            container.delete_blob("d/e/f.txt")
        assert missing_delete.value.error_code == "BlobNotFound"
        assert sorted(b.name for b in container.list_blobs()) == ["d", "d/e", "implicit", "implicit/x.bin"]


def test_delta_rs_on_the_dfs_port(lake_stack: Settings, filesystem: FileSystemClient):
    """delta-rs (Rust object_store, Blob API): commits by conditional copy, compaction, vacuum."""
    from deltalake import DeltaTable, write_deltalake

    options = {
        "account_name": lake_stack.storage_account,
        "account_key": _key(lake_stack),
        "azure_storage_endpoint": lake_stack.dfs_url,
        "allow_http": "true",
    }
    url = f"abfs://{filesystem.file_system_name}@{lake_stack.storage_account}.dfs.core.windows.net/orders"
    write_deltalake(url, pa.table({"order_id": [1, 2]}), storage_options=options)
    write_deltalake(url, pa.table({"order_id": [3]}), mode="append", storage_options=options)
    table = DeltaTable(url, storage_options=options)
    table.optimize.compact()
    table.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)

    reread = DeltaTable(url, storage_options=options)
    assert reread.to_pyarrow_table().sort_by("order_id").to_pydict() == {"order_id": [1, 2, 3]}
    assert [h["operation"] for h in reversed(reread.history())] == [
        "WRITE",
        "WRITE",
        "OPTIMIZE",
        "VACUUM START",
        "VACUUM END",
    ]
    # Vacuum left only the compacted file, and the listing through the DFS API agrees with delta-rs.
    [live_file] = reread.file_uris()
    listed = [p.name for p in filesystem.get_paths("orders", recursive=False) if not p.is_directory]
    assert listed == ["orders/" + live_file.rsplit("/", 1)[1]]
