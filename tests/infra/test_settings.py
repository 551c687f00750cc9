"""Settings resolve zone URLs and endpoints for both profiles, and keep secrets out of the azure profile."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from infra.settings import AZURITE_KEY, LakePath, Settings


def test_local_profile_zone_urls_and_paths() -> None:
    settings = Settings()
    assert settings.lake_url("bronze", "reviews", "p=0") == (
        "abfs://bronze@devstoreaccount1.dfs.core.windows.net/reviews/p=0"
    )
    assert settings.lake_url("gold") == "abfs://gold@devstoreaccount1.dfs.core.windows.net/"
    assert settings.lake_path("landing", "/eventhubs/", "x.avro") == LakePath("landing", "eventhubs/x.avro")
    assert settings.dfs_url == "http://127.0.0.1:10004/devstoreaccount1"
    assert settings.blob_url == "http://127.0.0.1:10000/devstoreaccount1"
    assert settings.dfs_hostport == "127.0.0.1:10004"
    assert settings.storage_key is not None and settings.storage_key.get_secret_value() == AZURITE_KEY


def test_azure_profile_uses_abfss_and_no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_PROFILE", "azure")
    monkeypatch.setenv("LAKEHOUSE_STORAGE_ACCOUNT", "contosolake")
    monkeypatch.setenv("LAKEHOUSE_EVENTHUBS_FULLY_QUALIFIED_NAMESPACE", "contoso.servicebus.windows.net")
    settings = Settings()
    assert settings.lake_url("silver", "orders") == "abfss://silver@contosolake.dfs.core.windows.net/orders"
    assert settings.lake_path("silver", "orders") == LakePath("silver", "orders")
    assert settings.dfs_url == "https://contosolake.dfs.core.windows.net"
    assert settings.storage_key is None
    assert settings.eventhubs_key is None
    assert settings.eventhubs_host == "contoso.servicebus.windows.net"
    with pytest.raises(ValueError, match="DefaultAzureCredential"):
        _ = settings.eventhubs_connection_string


def test_azure_profile_requires_an_account() -> None:
    with pytest.raises(ValidationError, match="LAKEHOUSE_STORAGE_ACCOUNT"):
        Settings(profile="azure")


def test_container_names_come_from_settings() -> None:
    settings = Settings(gold_container="gold-dev")
    assert (
        settings.lake_url("gold", "dim_date")
        == "abfs://gold-dev@devstoreaccount1.dfs.core.windows.net/dim_date"
    )
    with pytest.raises(ValueError, match="unknown zone"):
        settings.container("platinum")


def test_paths_cannot_escape_a_zone() -> None:
    with pytest.raises(ValueError, match=r"\.\."):
        Settings().lake_path("bronze", "../silver/orders")


def test_file_backend_for_unit_tests(tmp_path) -> None:
    settings = Settings(storage_backend="file", local_lake_dir=tmp_path)
    assert settings.lake_url("silver", "orders") == (tmp_path / "silver" / "orders").as_uri()


def test_emulator_connection_string_uses_the_configured_port() -> None:
    settings = Settings(amqp_port=5999)
    assert settings.eventhubs_connection_string == (
        "Endpoint=sb://127.0.0.1:5999;SharedAccessKeyName=RootManageSharedAccessKey;"
        "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
    )


def test_to_env_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Settings(
        dfs_port=12345,
        capture_enabled=False,
        reviews_hub="r",
        spark_conf={"spark.sql.ansi.enabled": "true"},
        spark_worker_ui_ports=[9001],
    )
    for key, value in original.to_env().items():
        monkeypatch.setenv(key, value)
    assert Settings() == original


def test_prefect_api_url_is_the_stacks_unless_prefect_api_url_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    local = Settings(state_dir=tmp_path, prefect_port=4321)
    assert (local.prefect_api_url, local.prefect_api) == ("http://127.0.0.1:4321/api", None)
    monkeypatch.setenv("PREFECT_API_URL", "https://api.prefect.cloud/api/accounts/a/workspaces/w")
    remote = Settings(state_dir=tmp_path, prefect_port=4321)
    assert remote.prefect_api_url == "https://api.prefect.cloud/api/accounts/a/workspaces/w"
    assert remote.stack_prefect_api_url == "http://127.0.0.1:4321/api"
    assert remote.to_env()["LAKEHOUSE_PREFECT_API"] == remote.prefect_api_url
    assert (
        Settings(**{"LAKEHOUSE_PREFECT_API": "http://x/api"}).prefect_api == "http://x/api"
    )  # by alias, as a child reads it
