"""The azure profile's code paths, as far as they run without Azure.

Settings validation, the Spark ABFS OAuth configuration (held against the hadoop-azure jar itself), the
credential each client is built with, and Capture left to Azure (nothing of ours starts a Capture writer).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from infra.settings import Settings
from infra.spark import HADOOP_AZURE_PACKAGE, cached_jars, storage_conf

AZURE = {
    "_env_file": None,
    "profile": "azure",
    "storage_account": "stlakehousedevq3x7rk",
    "eventhubs_fully_qualified_namespace": "evhns-lakehouse-dev-q3x7rk.servicebus.windows.net",
}
HOST = "stlakehousedevq3x7rk.dfs.core.windows.net"
CLIENT_ID = "6f1c2d3e-0000-4000-8000-00000000c11d"


def azure(**overrides: object) -> Settings:
    return Settings(**{**AZURE, **overrides})


def test_azure_profile_needs_an_account() -> None:
    with pytest.raises(ValidationError, match="LAKEHOUSE_STORAGE_ACCOUNT"):
        Settings(_env_file=None, profile="azure")


@pytest.mark.parametrize(
    ("key", "variable"),
    [("storage_key", "LAKEHOUSE_STORAGE_KEY"), ("eventhubs_key", "LAKEHOUSE_EVENTHUBS_KEY")],
)
def test_azure_profile_refuses_keys(key: str, variable: str) -> None:
    with pytest.raises(ValidationError, match=f"takes no key: unset {variable}"):
        azure(**{key: "c2VjcmV0"})


def test_azure_profile_refuses_the_file_backend() -> None:
    with pytest.raises(ValidationError, match="LAKEHOUSE_STORAGE_BACKEND=abfs"):
        azure(storage_backend="file")


def test_capture_namespace_follows_the_azure_namespace() -> None:
    assert azure().eventhubs_namespace == "evhns-lakehouse-dev-q3x7rk"
    assert azure(eventhubs_namespace="other").eventhubs_namespace == "other"  # an explicit name wins
    assert Settings(_env_file=None).eventhubs_namespace == "emulatorNs1"  # local profile unchanged


def test_spark_signs_in_with_oauth_managed_identity() -> None:
    conf = storage_conf(azure(managed_identity_client_id=CLIENT_ID))
    assert conf == {
        "spark.hadoop.fs.azure.account.hns.enabled": "true",
        f"spark.hadoop.fs.azure.account.auth.type.{HOST}": "OAuth",
        f"spark.hadoop.fs.azure.account.oauth.provider.type.{HOST}": (
            "org.apache.hadoop.fs.azurebfs.oauth2.MsiTokenProvider"
        ),
        f"spark.hadoop.fs.azure.account.oauth2.client.id.{HOST}": CLIENT_ID,
    }
    assert f"spark.hadoop.fs.azure.account.oauth2.client.id.{HOST}" not in storage_conf(azure())


def test_spark_oauth_keys_and_provider_exist_in_hadoop_azure() -> None:
    """Every key the azure profile sets is one the ABFS driver of the pinned hadoop-azure jar reads."""
    jars = cached_jars(Settings(_env_file=None))
    assert jars, "the Spark jars are resolved by `make setup`"
    version = HADOOP_AZURE_PACKAGE.rsplit(":", 1)[1]
    jar = next(Path(j) for j in jars if Path(j).name == f"org.apache.hadoop_hadoop-azure-{version}.jar")
    with zipfile.ZipFile(jar) as archive:
        constants = archive.read("org/apache/hadoop/fs/azurebfs/constants/ConfigurationKeys.class")
        classes = set(archive.namelist())
    conf = storage_conf(azure(managed_identity_client_id=CLIENT_ID))
    for key, value in conf.items():
        name = key.removeprefix("spark.hadoop.").removesuffix(f".{HOST}")
        assert name.encode() in constants, name
        if value.startswith("org.apache.hadoop."):
            assert value.replace(".", "/") + ".class" in classes


def test_sdk_clients_use_default_azure_credential() -> None:
    from azure.identity import DefaultAzureCredential

    from infra.storage.lake import credential_for
    from ingestion.reviews import producer_client

    settings = azure()
    assert isinstance(credential_for(settings), DefaultAzureCredential)
    producer = producer_client(settings)
    try:
        assert isinstance(producer._credential, DefaultAzureCredential)
        assert producer._address.hostname == "evhns-lakehouse-dev-q3x7rk.servicebus.windows.net"
        assert producer.eventhub_name == "product-reviews"
    finally:
        producer.close()
    with pytest.raises(ValueError, match="DefaultAzureCredential"):
        _ = settings.eventhubs_connection_string


def test_capture_is_left_to_azure(monkeypatch: pytest.MonkeyPatch) -> None:
    """On Azure no local service runs: `lakehouse up` (which starts the Capture writer) refuses."""
    from flows import cli

    for name, value in AZURE.items():
        if not name.startswith("_"):
            monkeypatch.setenv(f"LAKEHOUSE_{name.upper()}", value)
    cli.get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.app, ["up"])
    finally:
        cli.get_settings.cache_clear()
    assert result.exit_code == 1
    assert "runs the local emulators; set LAKEHOUSE_PROFILE=local" in result.output
