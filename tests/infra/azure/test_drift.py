"""The Bicep holds the values the code reads: containers, hub, partitions, consumer groups, Capture, roles.

Each value is read from where the code or the README keeps it (infra/settings.py, infra/local/Config.json,
ingestion/reviews.py, infra/local/eventhubs/capture.py, README.md), never re-typed here.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from infra.local.eventhubs.capture import capture_path
from infra.settings import AZURE_CAPTURE_WINDOW_SECONDS, PROJECT_ROOT, ZONES, Settings
from ingestion import reviews
from tests.infra.azure.conftest import AZURE_DIR

README = (PROJECT_ROOT / "README.md").read_text()
CONFIG = json.loads((PROJECT_ROOT / "infra" / "local" / "Config.json").read_text())
HUB = CONFIG["UserConfig"]["NamespaceConfig"][0]["Entities"][0]
# Values the code holds and the Bicep must not let a parameter file change per environment.
HELD = {
    "landingContainer",
    "bronzeContainer",
    "silverContainer",
    "goldContainer",
    "reviewsHub",
    "partitionCount",
    "consumerGroups",
    "captureWindowSeconds",
    "captureWindowBytes",
    "captureSkipEmpty",
    "messageRetentionInDays",
}


def defaults(bicep: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {name: p.get("default") for name, p in bicep["main.bicep"]["parameters"].items()}


def test_containers_equal_the_zone_map(bicep: dict[str, dict[str, Any]]) -> None:
    settings = Settings(_env_file=None)
    values = defaults(bicep)
    assert [values[f"{zone}Container"] for zone in ZONES] == [settings.container(z) for z in ZONES]
    zone_list = bicep["main.bicep"]["variables"]["zoneContainers"]["value"]
    assert zone_list == [f"{zone}Container" for zone in ZONES]
    for zone in ZONES:
        assert f"`abfss://{zone}@<account>.dfs.core.windows.net/`" in README


def test_hub_partitions_consumer_groups_equal_config_json(bicep: dict[str, dict[str, Any]]) -> None:
    values = defaults(bicep)
    assert values["reviewsHub"] == Settings(_env_file=None).reviews_hub == HUB["Name"]
    assert values["partitionCount"] == HUB["PartitionCount"]
    assert values["consumerGroups"] == [group["Name"] for group in HUB["ConsumerGroups"]]
    assert values["messageRetentionInDays"] * 24 == Settings(_env_file=None).eventhubs_retention_hours


def test_capture_window_equals_settings(bicep: dict[str, dict[str, Any]]) -> None:
    settings = Settings(_env_file=None)
    values = defaults(bicep)
    assert values["captureWindowSeconds"] == AZURE_CAPTURE_WINDOW_SECONDS
    assert values["captureWindowBytes"] == settings.capture_window_bytes
    assert values["captureSkipEmpty"] is settings.capture_skip_empty
    hub = bicep["modules/eventhubs.bicep"]["parameters"]
    low, high = (d["argument"] for d in hub["captureIntervalSeconds"]["decorators"][1:])
    assert low <= AZURE_CAPTURE_WINDOW_SECONDS <= high  # Azure's range, 60-900 s


def test_capture_archive_name_format_is_the_path_the_code_reads(bicep: dict[str, dict[str, Any]]) -> None:
    archive = bicep["main.bicep"]["variables"]["captureArchiveNameFormat"]["value"]
    assert f"`{archive}`" in README
    # Azure fills the tokens (zero-padded) and appends .avro: the file must land where the code looks.
    second = 1_638_457_104
    moment = datetime.fromtimestamp(second, tz=UTC)
    tokens = {
        "Namespace": "evhns-lakehouse-dev-q3x7rk",
        "EventHub": "product-reviews",
        "PartitionId": "3",
        "Year": f"{moment:%Y}",
        "Month": f"{moment:%m}",
        "Day": f"{moment:%d}",
        "Hour": f"{moment:%H}",
        "Minute": f"{moment:%M}",
        "Second": f"{moment:%S}",
    }
    assert sorted(re.findall(r"{(\w+)}", archive)) == sorted(tokens)
    written_by_azure = archive.format(**tokens) + ".avro"
    assert written_by_azure == capture_path("evhns-lakehouse-dev-q3x7rk", "product-reviews", "3", second)
    settings = Settings(
        _env_file=None,
        profile="azure",
        storage_account="stlakehousedevq3x7rk",
        eventhubs_fully_qualified_namespace="evhns-lakehouse-dev-q3x7rk.servicebus.windows.net",
    )
    assert written_by_azure.startswith(reviews.capture_prefix(settings) + "/")
    hub_module = bicep["modules/eventhubs.bicep"]["resources"]["hub"]["config"]
    destination = hub_module["properties"]["captureDescription"]["destination"]["properties"]
    assert destination["archiveNameFormat"] == "captureArchiveNameFormat"
    assert (
        bicep["main.bicep"]["modules"]["eventHubs"]["config"]["params"]["captureContainer"]
        == "landingContainer"
    )


def test_readme_roles_are_the_ones_granted(bicep: dict[str, dict[str, Any]]) -> None:
    section = README.split("## Running on Azure", 1)[1].split("\n## ", 1)[0]
    bullet = section.split("Roles for the identity", 1)[1].split("\n- ", 1)[0]
    readme_roles = {" ".join(r.split()) for r in re.findall(r"\*\*([^*]+)\*\*", bullet)}
    assert readme_roles == {
        "Storage Blob Data Contributor",
        "Azure Event Hubs Data Sender",
        "Azure Event Hubs Data Receiver",
        "Key Vault Secrets User",
    }
    roles = bicep["modules/roles.bicep"]
    granted = {
        str(body["config"]["properties"]["roleDefinitionId"])
        for name, body in roles["resources"].items()
        if name.startswith("runtime") and body["type"] == "Microsoft.Authorization/roleAssignments"
    }
    for role in readme_roles:
        assert any(f"'{role}'" in definition for definition in granted), role


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_parameter_files_do_not_override_what_the_code_holds(
    bicep: dict[str, dict[str, Any]], environment: str
) -> None:
    values = json.loads((AZURE_DIR / "parameters" / f"{environment}.json").read_text())["parameters"]
    assert values["environmentName"]["value"] == environment
    assert not HELD & set(values)
    assert set(values) <= set(bicep["main.bicep"]["parameters"])
    required = {
        n for n, p in bicep["main.bicep"]["parameters"].items() if "default" not in p or p["default"] is None
    }
    assert required - {"apiToken"} <= set(values)


def test_outputs_are_settings_of_the_azure_profile(bicep: dict[str, dict[str, Any]]) -> None:
    env = bicep["main.bicep"]["outputs"]["lakehouseEnv"]["value"]
    fields = {f"LAKEHOUSE_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= fields
    assert {
        "LAKEHOUSE_PROFILE",
        "LAKEHOUSE_STORAGE_ACCOUNT",
        "LAKEHOUSE_EVENTHUBS_NAMESPACE",
        "LAKEHOUSE_EVENTHUBS_FULLY_QUALIFIED_NAMESPACE",
        "LAKEHOUSE_MANAGED_IDENTITY_CLIENT_ID",
    } <= set(env)
    assert not [k for k in env if re.search("KEY|SECRET|TOKEN|PASSWORD", k.removeprefix("LAKEHOUSE_"))]
