"""`lakehouse azure plan | env | prefect-file`: real output on the committed sample outputs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from flows.azure_cli import azure_prefect_file, lakehouse_env, load_outputs
from flows.cli import app
from infra.settings import PROJECT_ROOT

OUTPUTS = Path(__file__).parent / "fixtures" / "outputs.json"
runner = CliRunner()

SAMPLE_ENV = {
    "LAKEHOUSE_PROFILE": "azure",
    "LAKEHOUSE_STORAGE_ACCOUNT": "stlakehousedevq3x7rk",
    "LAKEHOUSE_LANDING_CONTAINER": "landing",
    "LAKEHOUSE_BRONZE_CONTAINER": "bronze",
    "LAKEHOUSE_SILVER_CONTAINER": "silver",
    "LAKEHOUSE_GOLD_CONTAINER": "gold",
    "LAKEHOUSE_EVENTHUBS_NAMESPACE": "evhns-lakehouse-dev-q3x7rk",
    "LAKEHOUSE_EVENTHUBS_FULLY_QUALIFIED_NAMESPACE": "evhns-lakehouse-dev-q3x7rk.servicebus.windows.net",
    "LAKEHOUSE_REVIEWS_HUB": "product-reviews",
    "LAKEHOUSE_CAPTURE_WINDOW_SECONDS": "60",
    "LAKEHOUSE_API_HOST": "app-events.example.com",
    "LAKEHOUSE_API_PORT": "8087",
    "LAKEHOUSE_MANAGED_IDENTITY_CLIENT_ID": "6f1c2d3e-0000-4000-8000-00000000c11d",
}


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("plan", ["--env", "--resource-group", "--outputs"]),
        ("env", ["{outputs}", "--out", "--force"]),
        ("prefect-file", ["{outputs}", "--image", "--out"]),
    ],
)
def test_help(command: str, options: list[str]) -> None:
    result = runner.invoke(app, ["azure", command, "--help"], prog_name="lakehouse")
    assert result.exit_code == 0
    text = re.sub(r"\s+", " ", result.output)
    assert f"Usage: lakehouse azure {command}" in text
    for option in options:
        assert option in text


def test_plan_prints_the_az_commands_and_the_environment_from_outputs() -> None:
    result = runner.invoke(app, ["azure", "plan", "--env", "prod", "--outputs", str(OUTPUTS)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    target = (
        "--resource-group rg-lakehouse-prod --name lakehouse-prod --template-file infra/azure/main.bicep "
        "--parameters @infra/azure/parameters/prod.json"
    )
    assert lines[:9] == [
        "# 0. the resource group, once",
        "az group create --name rg-lakehouse-prod --location <region>",
        "# 1. preview the changes (read-only)",
        f"az deployment group what-if {target}",
        "# 2. deploy",
        f"az deployment group create {target}",
        "# 3. the azure profile's .env from the outputs",
        "az deployment group show --resource-group rg-lakehouse-prod --name lakehouse-prod "
        "--query properties.outputs > outputs.json",
        "lakehouse azure env outputs.json",
    ]
    assert lines[9] == f"# environment of the azure profile (outputs in {OUTPUTS})"
    assert lines[10:] == [f"{k}={v}" for k, v in SAMPLE_ENV.items()]


def test_plan_without_outputs_shows_what_the_deployment_will_name() -> None:
    result = runner.invoke(app, ["azure", "plan", "-g", "rg-data"])
    assert result.exit_code == 0, result.output
    assert "az deployment group what-if --resource-group rg-data --name lakehouse-dev" in result.output
    assert "LAKEHOUSE_STORAGE_ACCOUNT=<from the deployment outputs>" in result.output
    assert "LAKEHOUSE_API_HOST=app-events.example.com" in result.output  # from parameters/dev.json
    assert "LAKEHOUSE_REVIEWS_HUB=product-reviews" in result.output


def test_plan_refuses_an_unknown_environment() -> None:
    result = runner.invoke(app, ["azure", "plan", "--env", "staging"])
    assert result.exit_code == 1
    assert "unknown environment 'staging'" in result.output


def test_env_writes_names_only(tmp_path: Path) -> None:
    out = tmp_path / ".env"
    result = runner.invoke(app, ["azure", "env", str(OUTPUTS), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0] == "# The azure profile, written by `lakehouse azure env` from outputs.json."
    assert [line for line in lines if not line.startswith("#")] == [f"{k}={v}" for k, v in SAMPLE_ENV.items()]
    text = out.read_text()
    for marker in ("KEY=", "SECRET", "TOKEN", "PASSWORD", "AccountKey", "SharedAccessKey", "sig="):
        assert marker not in text
    # A second run does not overwrite the file unless told to.
    again = runner.invoke(app, ["azure", "env", str(OUTPUTS), "--out", str(out)])
    assert again.exit_code == 1
    assert "exists; pass --force" in again.output
    assert runner.invoke(app, ["azure", "env", str(OUTPUTS), "--out", str(out), "--force"]).exit_code == 0


def test_env_file_builds_the_azure_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.settings import Settings

    (tmp_path / ".env").write_text(
        "\n".join(f"{k}={v}" for k, v in lakehouse_env(load_outputs(OUTPUTS)).items()) + "\n"
    )
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.profile == "azure"
    assert settings.lake_url("bronze") == "abfss://bronze@stlakehousedevq3x7rk.dfs.core.windows.net/"
    assert settings.eventhubs_host == "evhns-lakehouse-dev-q3x7rk.servicebus.windows.net"
    assert settings.storage_key is None and settings.eventhubs_key is None and settings.api_token is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"LAKEHOUSE_STORAGE_KEY": "abc"}, "looks like a secret"),
        ({"LAKEHOUSE_API_TOKEN": "abc"}, "looks like a secret"),
        ({"AZURE_CLIENT_SECRET": "abc"}, "is not a LAKEHOUSE_"),
        ({"LAKEHOUSE_STORAGE_ACCOUNTS": "typo"}, "is not a LAKEHOUSE_"),
        ({"LAKEHOUSE_PROFILE": "local"}, "LAKEHOUSE_PROFILE=azure"),
        ({"LAKEHOUSE_STORAGE_ACCOUNT": "devstoreaccount1"}, "LAKEHOUSE_STORAGE_ACCOUNT"),
    ],
)
def test_env_refuses_outputs_that_are_not_the_azure_profile(change: dict[str, str], message: str) -> None:
    outputs = load_outputs(OUTPUTS)
    outputs["lakehouseEnv"] = {**outputs["lakehouseEnv"], **change}
    with pytest.raises(ValueError, match=message):
        lakehouse_env(outputs)


def test_prefect_file_keeps_every_deployment_and_moves_it_to_the_aci_pool(tmp_path: Path) -> None:
    out = tmp_path / "prefect.azure.yaml"
    image = "crlakehousedevq3x7rk.azurecr.io/lakehouse:abc123"
    result = runner.invoke(app, ["azure", "prefect-file", str(OUTPUTS), "--image", image, "--out", str(out)])
    assert result.exit_code == 0, result.output
    local = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())
    rendered = yaml.safe_load(out.read_text())
    assert rendered == azure_prefect_file(local, load_outputs(OUTPUTS), image)
    assert rendered["pull"] == [{"prefect.deployments.steps.set_working_directory": {"directory": "/app"}}]
    keep = ("name", "entrypoint", "parameters", "schedules", "concurrency_limit", "description")
    assert [{k: d.get(k) for k in keep} for d in rendered["deployments"]] == [
        {k: d.get(k) for k in keep} for d in local["deployments"]
    ]
    runtime = load_outputs(OUTPUTS)["platform"]["runtimeIdentityId"]
    for deployment in rendered["deployments"]:
        pool = deployment["work_pool"]
        assert pool["name"] == "lakehouse-aci"
        variables = pool["job_variables"]
        assert variables["image"] == image
        assert variables["identities"] == [runtime]
        assert variables["image_registry"] == {
            "registry_url": "crlakehousedevq3x7rk.azurecr.io",
            "identity": runtime,
        }
        assert variables["entrypoint"] == "/app/infra/azure/run_with_secrets.py"
        env = variables["env"]
        assert {k: env[k] for k in SAMPLE_ENV} == SAMPLE_ENV
        assert env["LAKEHOUSE_KEYVAULT_SECRETS"] == "LAKEHOUSE_API_TOKEN=app-events-api-token"
        assert "LAKEHOUSE_API_TOKEN" not in env
        spark = "spark" in deployment["tags"]
        assert (variables["cpu"], variables["memory"]) == ((4, 16) if spark else (1, 4))
    assert sum("spark" in d["tags"] for d in rendered["deployments"]) == 2
