"""docker-compose.yml is checked without a Docker engine: images, builds, ports and env vs settings."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from infra.settings import PROJECT_ROOT, Settings

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]


def test_every_service_has_an_image_or_a_build_context() -> None:
    for name, service in SERVICES.items():
        assert "image" in service or "build" in service, name
        build = service.get("build")
        if build:
            assert (PROJECT_ROOT / build["context"] / build["dockerfile"]).is_file(), name
    project_images = {
        s["image"] for s in SERVICES.values() if s.get("image", "").startswith("azure-lakehouse")
    }
    assert project_images == {"azure-lakehouse:local"}


def test_dependencies_exist_and_wait_for_health() -> None:
    for name, service in SERVICES.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[dependency], f"{dependency} has no healthcheck"


def test_published_ports_match_the_default_settings() -> None:
    defaults = Settings()
    expected = {
        "azurite": {defaults.blob_port},
        "dfs": {defaults.dfs_port},
        "eventhubs": {defaults.amqp_port, defaults.eventhubs_health_port},
        "api": {defaults.api_port},
        "prefect-server": {defaults.prefect_port},
    }
    for name, ports in expected.items():
        published = {int(p.split(":")[0]) for p in SERVICES[name]["ports"]}
        assert published == ports, name


def test_environment_names_real_settings_with_matching_ports() -> None:
    fields = set(Settings.model_fields)
    env = COMPOSE["x-lakehouse-env"]
    for key in env:
        assert key.startswith("LAKEHOUSE_") and key.removeprefix("LAKEHOUSE_").lower() in fields, key
    settings = Settings(**{k.removeprefix("LAKEHOUSE_").lower(): v for k, v in env.items()})
    assert settings.blob_url == "http://azurite:10000/devstoreaccount1"
    assert settings.dfs_url == "http://dfs:10004/devstoreaccount1"
    assert settings.eventhubs_host == "eventhubs:5672"
    assert settings.api_url == "http://api:8087"
    assert settings.listen_host == "0.0.0.0"


def test_the_event_hubs_emulator_mounts_the_projects_config() -> None:
    source, target, _ = SERVICES["eventhubs"]["volumes"][0].split(":")
    assert target == "/Eventhubs_Emulator/ConfigFiles/Config.json"
    config = json.loads((PROJECT_ROOT / Path(source)).read_text())
    namespaces = config["UserConfig"]["NamespaceConfig"]
    assert [ns["Name"] for ns in namespaces] == ["emulatorNs1"]
    hubs = {e["Name"]: e["PartitionCount"] for e in namespaces[0]["Entities"]}
    assert hubs[Settings().reviews_hub] == 4
