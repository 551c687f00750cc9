"""`lakehouse azure`: from the Bicep in infra/azure/ to a working azure profile, without storing a secret.

* ``plan``: the ``az deployment group what-if`` / ``create`` commands for an environment's parameters, and
  the LAKEHOUSE_* environment the deployment gives (from its outputs when a file of them is given).
* ``env``: the azure profile's ``.env`` from a deployment's outputs
  (``az deployment group show --query properties.outputs``): account and namespace names only.
* ``prefect-file``: ``prefect.yaml`` rewritten for the Azure work pool (the deploy workflow runs
  ``prefect deploy`` on it), so the deployments, schedules and parameters stay defined once.

Nothing here calls Azure: the commands print or write files, and ``az`` does the rest.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

from infra.settings import AZURE_CAPTURE_WINDOW_SECONDS, PROJECT_ROOT, ZONES, Settings

app = typer.Typer(
    help="Deploy to Azure: print the az commands, write the azure profile's .env from deployment outputs.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()

AZURE_DIR = PROJECT_ROOT / "infra" / "azure"
TEMPLATE = AZURE_DIR / "main.bicep"
ENVIRONMENTS = ("dev", "prod")
# Flow-run containers start through this script: it reads Key Vault secrets into the environment, then execs.
ENTRYPOINT = "/app/infra/azure/run_with_secrets.py"
# What a value of the azure profile's environment may never look like: the profile names accounts only.
SECRET_MARKERS = ("KEY", "SECRET", "TOKEN", "PASSWORD", "CONNECTION_STRING", "SAS")
# Spark flows (the `spark` tag of prefect.yaml) get the largest Azure Container Instances size.
SPARK_RESOURCES = {"cpu": 4, "memory": 16, "spark_driver_memory": "12g"}
DEFAULT_RESOURCES = {"cpu": 1, "memory": 4}


def _say(line: str) -> None:
    """A line as it is (commands and NAME=value lines are meant to be copied)."""
    console.print(line, soft_wrap=True, markup=False, highlight=False)


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", soft_wrap=True, highlight=False)
    return typer.Exit(code=1)


# --- pure helpers (tested without Azure) ----------------------------------------------------------------
def load_outputs(path: Path) -> dict[str, Any]:
    """Deployment outputs as plain values: ``{"name": {"type": ..., "value": v}}`` becomes ``{"name": v}``."""
    raw = json.loads(path.read_text())
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected the JSON object of `--query properties.outputs`")
    return {
        name: item["value"] if isinstance(item, dict) and "value" in item else item
        for name, item in raw.items()
    }


def lakehouse_env(outputs: dict[str, Any]) -> dict[str, str]:
    """The azure profile's LAKEHOUSE_* variables from the ``lakehouseEnv`` output, checked by Settings."""
    env = outputs.get("lakehouseEnv")
    if not isinstance(env, dict) or not env:
        raise ValueError("the outputs hold no `lakehouseEnv` object: are they from infra/azure/main.bicep?")
    env = {str(k): str(v) for k, v in env.items()}
    for name in env:
        field = name.removeprefix("LAKEHOUSE_").lower()
        if not name.startswith("LAKEHOUSE_") or field not in Settings.model_fields:
            raise ValueError(f"{name} is not a LAKEHOUSE_* setting of infra/settings.py")
        if any(marker in name.removeprefix("LAKEHOUSE_") for marker in SECRET_MARKERS):
            raise ValueError(f"{name} looks like a secret; the azure profile's environment holds names only")
    if env.get("LAKEHOUSE_PROFILE") != "azure":
        raise ValueError("lakehouseEnv must set LAKEHOUSE_PROFILE=azure")
    settings_of(env)  # raises on anything the azure profile refuses
    return env


def settings_of(env: dict[str, str]) -> Settings:
    """Settings built from ``env`` alone (no .env file; explicit values win over the process environment)."""
    values = {k.removeprefix("LAKEHOUSE_").lower(): v for k, v in env.items()}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]  # init-only _env_file; pydantic parses the strings


def render_env(env: dict[str, str], source: str) -> str:
    """``.env`` text: a header saying where it came from, then one ``NAME=value`` a line."""
    lines = [
        f"# The azure profile, written by `lakehouse azure env` from {source}.",
        "# Names only: credentials come from DefaultAzureCredential (az login, managed identity).",
    ]
    lines += [f"{name}={value}" for name, value in env.items()]
    return "\n".join(lines) + "\n"


def deployment_commands(resource_group: str, parameters: Path, deployment: str) -> dict[str, list[str]]:
    """The az commands for one environment: what-if (read-only), create, and reading the outputs back."""
    target = [
        "--resource-group",
        resource_group,
        "--name",
        deployment,
        "--template-file",
        _relative(TEMPLATE),
        "--parameters",
        f"@{_relative(parameters)}",
    ]
    return {
        "what-if": ["az", "deployment", "group", "what-if", *target],
        "create": ["az", "deployment", "group", "create", *target],
        "outputs": [
            "az",
            "deployment",
            "group",
            "show",
            "--resource-group",
            resource_group,
            "--name",
            deployment,
            "--query",
            "properties.outputs",
        ],
    }


def expected_env(parameters: Path) -> dict[str, str]:
    """The environment a deployment will give, before it exists: names Azure derives are placeholders."""
    values = {k: v.get("value") for k, v in json.loads(parameters.read_text())["parameters"].items()}
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]  # pydantic-settings' init-only _env_file
    later = "<from the deployment outputs>"
    return {
        "LAKEHOUSE_PROFILE": "azure",
        "LAKEHOUSE_STORAGE_ACCOUNT": later,
        **{f"LAKEHOUSE_{zone.upper()}_CONTAINER": defaults.container(zone) for zone in ZONES},
        "LAKEHOUSE_EVENTHUBS_NAMESPACE": later,
        "LAKEHOUSE_EVENTHUBS_FULLY_QUALIFIED_NAMESPACE": later,
        "LAKEHOUSE_REVIEWS_HUB": defaults.reviews_hub,
        "LAKEHOUSE_CAPTURE_WINDOW_SECONDS": str(int(AZURE_CAPTURE_WINDOW_SECONDS)),
        "LAKEHOUSE_API_HOST": str(values.get("apiHost", later)),
        "LAKEHOUSE_API_PORT": str(values.get("apiPort", defaults.api_port)),
        "LAKEHOUSE_MANAGED_IDENTITY_CLIENT_ID": later,
    }


def azure_prefect_file(prefect: dict[str, Any], outputs: dict[str, Any], image: str) -> dict[str, Any]:
    """``prefect.yaml`` for the Azure Container Instances work pool: same deployments, Azure job variables."""
    platform = outputs.get("platform")
    if not isinstance(platform, dict):
        raise ValueError("the outputs hold no `platform` object: are they from infra/azure/main.bicep?")
    env = lakehouse_env(outputs)
    runtime_env = {
        **env,
        # DefaultAzureCredential (SDKs) picks the runtime identity; Key Vault secrets come in at start.
        "AZURE_CLIENT_ID": platform["runtimeIdentityClientId"],
        "LAKEHOUSE_KEYVAULT_URI": platform["keyVaultUri"],
        "LAKEHOUSE_KEYVAULT_SECRETS": f"LAKEHOUSE_API_TOKEN={platform['apiTokenSecretName']}",
    }
    deployments = []
    for deployment in prefect["deployments"]:
        spark = "spark" in deployment.get("tags", [])
        size = SPARK_RESOURCES if spark else DEFAULT_RESOURCES
        job_env = dict(runtime_env)
        if spark:
            job_env["LAKEHOUSE_SPARK_DRIVER_MEMORY"] = str(size["spark_driver_memory"])
        deployments.append(
            {
                **deployment,
                "tags": [t for t in deployment.get("tags", []) if t != "local-first"] + ["azure"],
                "work_pool": {
                    "name": platform["workPoolName"],
                    "work_queue_name": "default",
                    "job_variables": {
                        "image": image,
                        "resource_group_name": platform["resourceGroup"],
                        "subscription_id": platform["subscriptionId"],
                        "identities": [platform["runtimeIdentityId"]],
                        "image_registry": {
                            "registry_url": platform["registryLoginServer"],
                            "identity": platform["runtimeIdentityId"],
                        },
                        "entrypoint": ENTRYPOINT,
                        "cpu": size["cpu"],
                        "memory": size["memory"],
                        "env": job_env,
                    },
                },
            }
        )
    return {
        **{k: v for k, v in prefect.items() if k not in ("definitions", "deployments")},
        # The image's working directory holds the project (infra/local/docker/Dockerfile).
        "pull": [{"prefect.deployments.steps.set_working_directory": {"directory": "/app"}}],
        "deployments": deployments,
    }


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


# --- commands -----------------------------------------------------------------------------------------
EnvironmentOption = Annotated[str, typer.Option("--env", "-e", help="Environment: dev or prod.")]


@app.command()
def plan(
    environment: EnvironmentOption = "dev",
    resource_group: Annotated[
        str | None, typer.Option("--resource-group", "-g", help="Default: rg-lakehouse-<env>.")
    ] = None,
    outputs: Annotated[
        Path | None, typer.Option(help="Outputs of a deployment (JSON), to print the real environment.")
    ] = None,
) -> None:
    """Print the az what-if / create commands for an environment and the LAKEHOUSE_* environment it gives."""
    if environment not in ENVIRONMENTS:
        raise _fail(f"unknown environment {environment!r}; choose from {', '.join(ENVIRONMENTS)}")
    parameters = AZURE_DIR / "parameters" / f"{environment}.json"
    group = resource_group or f"rg-lakehouse-{environment}"
    commands = deployment_commands(group, parameters, f"lakehouse-{environment}")
    lines = [
        "# 0. the resource group, once",
        f"az group create --name {shlex.quote(group)} --location <region>",
        "# 1. preview the changes (read-only)",
        shlex.join(commands["what-if"]),
        "# 2. deploy",
        shlex.join(commands["create"]),
        "# 3. the azure profile's .env from the outputs",
        f"{shlex.join(commands['outputs'])} > outputs.json",
        "lakehouse azure env outputs.json",
    ]
    for line in lines:
        _say(line)
    try:
        env = lakehouse_env(load_outputs(outputs)) if outputs else expected_env(parameters)
    except (OSError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    source = f"outputs in {outputs}" if outputs else f"{_relative(parameters)}; names come with the outputs"
    _say(f"# environment of the azure profile ({source})")
    for name, value in env.items():
        _say(f"{name}={value}")


@app.command()
def env(
    outputs: Annotated[
        Path, typer.Argument(help="JSON of `az deployment group show --query properties.outputs`.")
    ],
    out: Annotated[Path, typer.Option(help="File to write.")] = Path(".env"),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write the azure profile's .env from a deployment's outputs (names only, never a key or a token)."""
    try:
        variables = lakehouse_env(load_outputs(outputs))
    except (OSError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    if out.exists() and not force:
        raise _fail(f"{out} exists; pass --force to overwrite it")
    out.write_text(render_env(variables, outputs.name))
    console.print(f"wrote {out}: {len(variables)} settings, profile azure", soft_wrap=True)


@app.command("prefect-file")
def prefect_file(
    outputs: Annotated[
        Path, typer.Argument(help="JSON of `az deployment group show --query properties.outputs`.")
    ],
    image: Annotated[
        str, typer.Option(help="Flow-run image in the registry, e.g. <acr>.azurecr.io/lakehouse:<sha>.")
    ],
    out: Annotated[Path, typer.Option(help="File to write.")] = Path(".cache/prefect.azure.yaml"),
) -> None:
    """Write prefect.yaml for the Azure work pool (then: prefect deploy --all --prefect-file <out>)."""
    try:
        from flows.deployments import PREFECT_YAML

        prefect = yaml.safe_load(PREFECT_YAML.read_text())
        rendered = azure_prefect_file(prefect, load_outputs(outputs), image)
    except (OSError, ValueError, KeyError) as exc:
        raise _fail(f"{exc}") from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    header = "# Generated by `lakehouse azure prefect-file` from prefect.yaml; do not edit.\n"
    out.write_text(header + yaml.dump(rendered, Dumper=_NoAliases, sort_keys=False))
    pool = rendered["deployments"][0]["work_pool"]["name"]
    console.print(f"wrote {out}: {len(rendered['deployments'])} deployments on work pool {pool}")
