"""Fixtures of the DFS endpoint tests: SDK clients on the session stack, a fresh filesystem per test, a
private Azurite + DFS pair for tests that stop the endpoint."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest
from azure.storage.blob import BlobServiceClient
from azure.storage.filedatalake import DataLakeServiceClient, FileSystemClient
from dfs_testkit import PrivateStack

from infra.local.launcher import Launcher, free_port, running
from infra.settings import Settings
from infra.storage.lake import credential_for

# The Hadoop 3.5 ABFS driver's default HTTP client (Apache) refuses plain http ("SSL socket factory may not
# be null"), and its metrics thread posts to the account at shutdown; the JDK client and no metrics suit a
# local endpoint. Applied to the shared session until infra/spark.py sets them itself.
ABFS_LOCAL_HADOOP_CONF = {
    "fs.azure.networking.library": "JDK_HTTP_URL_CONNECTION",
    "fs.azure.metrics.collection.enabled": "false",
}


@pytest.fixture(scope="session")
def dfs_service(lake_stack: Settings) -> Iterator[DataLakeServiceClient]:
    with DataLakeServiceClient(lake_stack.dfs_url, credential=credential_for(lake_stack)) as service:
        yield service


@pytest.fixture(scope="session")
def azurite_blobs(lake_stack: Settings) -> Iterator[BlobServiceClient]:
    """A Blob client straight to Azurite, bypassing the DFS endpoint."""
    with BlobServiceClient(lake_stack.blob_url, credential=credential_for(lake_stack)) as service:
        yield service


@pytest.fixture
def filesystem(dfs_service: DataLakeServiceClient) -> Iterator[FileSystemClient]:
    """A new, empty filesystem for one test."""
    client = dfs_service.get_file_system_client(f"t-{uuid.uuid4().hex[:12]}")
    client.create_file_system()
    yield client
    client.delete_file_system()


@pytest.fixture(scope="session")
def abfs_spark(spark):
    """The session's SparkSession with the ABFS settings a local plain-http endpoint needs."""
    hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in ABFS_LOCAL_HADOOP_CONF.items():
        hadoop_conf.set(key, value)
    return spark


@pytest.fixture(scope="module")
def private_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateStack]:
    """Separate Azurite + DFS (recursive deletes in batches of 50, to exercise continuation tokens)."""
    from infra.local.services import azurite_spec, dfs_spec

    settings = Settings(
        state_dir=tmp_path_factory.mktemp("private-stack"), blob_port=free_port(), dfs_port=free_port()
    )
    dfs = dfs_spec(settings)
    dfs = dataclasses.replace(dfs, command=[*dfs.command, "--delete-batch", "50"])
    launcher = Launcher(settings.state_dir)
    with running(launcher, [azurite_spec(settings), dfs]):
        yield PrivateStack(settings, launcher, dfs)
