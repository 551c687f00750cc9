"""prefect-azure's own ACI job configuration renders what `lakehouse azure prefect-file` writes.

The worker on Azure validates each deployment's job variables against its base job template and turns them
into the container group's ARM template. The same code runs here (prefect-azure 0.4.13 from
``.cache/prefect-azure``, see infra/azure/requirements-prefect-azure.txt), in a subprocess, with no Azure
and no Prefect server: what ACI would be asked to create is checked field by field.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.azure_cli import ENTRYPOINT, azure_prefect_file, load_outputs
from flows.deployments import PREFECT_YAML
from infra.settings import PROJECT_ROOT

PREFECT_AZURE = PROJECT_ROOT / ".cache" / "prefect-azure"
OUTPUTS = Path(__file__).parent / "fixtures" / "outputs.json"
IMAGE = "crlakehousedevq3x7rk.azurecr.io/lakehouse:abc123"

# Runs with .venv's Python and prefect-azure on the path: each deployment's container group, as JSON.
_RENDER = """
import json, sys, uuid, yaml
from prefect.client.schemas.objects import FlowRun
from prefect.utilities.templating import apply_values
from prefect_azure.workers.container_instance import (
    AzureContainerJobConfiguration, AzureContainerVariables, AzureContainerWorker,
)
template = AzureContainerWorker.get_default_base_job_template()
groups = {}
for deployment in yaml.safe_load(open(sys.argv[1]))["deployments"]:
    variables = AzureContainerVariables(**deployment["work_pool"]["job_variables"])
    values = apply_values(template["job_configuration"], variables.model_dump())
    config = AzureContainerJobConfiguration(**values)
    config.prepare_for_flow_run(FlowRun(flow_id=uuid.uuid4(), name="check"))
    groups[deployment["name"]] = {"group": config.arm_template["resources"][0],
                                  "credentials": config.aci_credentials.model_dump(mode="json")}
print(json.dumps(groups, default=str))
"""


@pytest.fixture(scope="module")
def container_groups(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    if not (PREFECT_AZURE / ".installed").exists():
        pytest.fail(f"{PREFECT_AZURE} is missing: `make setup-checks` (part of `make test`) installs it")
    rendered = azure_prefect_file(yaml.safe_load(PREFECT_YAML.read_text()), load_outputs(OUTPUTS), IMAGE)
    path = tmp_path_factory.mktemp("aci") / "prefect.azure.yaml"
    path.write_text(yaml.safe_dump(rendered))
    env = os.environ | {"PYTHONPATH": str(PREFECT_AZURE), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    done = subprocess.run(
        [sys.executable, "-c", _RENDER, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_deployment_renders(container_groups: dict[str, dict[str, Any]]) -> None:
    names = [d["name"] for d in yaml.safe_load(PREFECT_YAML.read_text())["deployments"]]
    assert list(container_groups) == names


def test_container_group_runs_as_the_runtime_identity(container_groups: dict[str, dict[str, Any]]) -> None:
    platform = load_outputs(OUTPUTS)["platform"]
    runtime = platform["runtimeIdentityId"]
    for name, rendered in container_groups.items():
        group = rendered["group"]
        assert group["type"] == "Microsoft.ContainerInstance/containerGroups", name
        assert group["identity"] == {"type": "UserAssigned", "userAssignedIdentities": {runtime: {}}}
        assert group["properties"]["imageRegistryCredentials"] == [
            {"server": platform["registryLoginServer"], "identity": runtime}
        ]
        assert group["properties"]["restartPolicy"] == "Never"
        # No client secret: the worker signs in to Azure with DefaultAzureCredential (its managed identity).
        assert rendered["credentials"]["client_secret"] is None


def test_container_runs_the_flow_through_the_key_vault_entrypoint(
    container_groups: dict[str, dict[str, Any]],
) -> None:
    for name, rendered in container_groups.items():
        container = rendered["group"]["properties"]["containers"][0]["properties"]
        assert container["image"] == IMAGE
        assert container["command"] == [ENTRYPOINT, "prefect", "flow-run", "execute"], name
        env = {e["name"]: e.get("value") for e in container["environmentVariables"]}
        assert env["LAKEHOUSE_PROFILE"] == "azure"
        assert env["LAKEHOUSE_KEYVAULT_SECRETS"] == "LAKEHOUSE_API_TOKEN=app-events-api-token"
        assert "LAKEHOUSE_API_TOKEN" not in env  # read from Key Vault at start, never in the definition
        spark = name in ("medallion", "lakehouse-daily")
        assert container["resources"]["requests"] == (
            {"cpu": 4.0, "memoryInGB": 16.0} if spark else {"cpu": 1.0, "memoryInGB": 4.0}
        )
        assert (env.get("LAKEHOUSE_SPARK_DRIVER_MEMORY") == "12g") is spark
