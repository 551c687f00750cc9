"""The GitHub workflows run what the README says and deploy what infra/azure/ and the CLI define.

actionlint and zizmor lint them in `make check-azure`; this holds their content against the project.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from flows.azure_cli import ENVIRONMENTS
from infra.settings import PROJECT_ROOT

WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"


def load(name: str) -> dict[Any, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def test_ci_runs_the_readme_test_command() -> None:
    ci = load("ci.yml")
    assert "make test   #" in (PROJECT_ROOT / "README.md").read_text()
    assert [s["run"] for s in steps(ci) if "run" in s] == ["make test"]
    assert ci["permissions"] == {"contents": "read"}
    assert "Python 3.11, Java 17 and Node 20" in (PROJECT_ROOT / "README.md").read_text()
    versions = {s["uses"].split("@")[0]: s.get("with", {}) for s in steps(ci) if "uses" in s}
    assert versions["actions/setup-python"]["python-version"] == "3.11"
    assert versions["actions/setup-java"]["java-version"] == "17"
    assert versions["actions/setup-node"]["node-version"] == "20"


def test_deploy_uses_oidc_and_the_committed_template() -> None:
    deploy = load("deploy.yml")
    trigger = deploy[True]  # YAML 1.1 reads the key `on` as a boolean
    assert list(trigger) == ["workflow_dispatch"]
    assert trigger["workflow_dispatch"]["inputs"]["environment"]["options"] == list(ENVIRONMENTS)
    assert deploy["permissions"] == {}
    (job,) = deploy["jobs"].values()
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    login = next(s for s in job["steps"] if s.get("uses", "").startswith("azure/login@"))
    assert set(login["with"]) == {"client-id", "tenant-id", "subscription-id"}  # no client secret
    script = "\n".join(s.get("run", "") for s in job["steps"])
    assert "--template-file infra/azure/main.bicep" in script
    assert '"@infra/azure/parameters/$ENVIRONMENT.json"' in script
    assert "az deployment group what-if" in script and "az deployment group create" in script
    assert "lakehouse azure prefect-file outputs.json" in script
    assert "prefect --no-prompt deploy --all --prefect-file .cache/prefect.azure.yaml" in script
    assert "--type azure-container-instance" in script


def test_actions_are_pinned_to_commits_and_checkouts_keep_no_token() -> None:
    for name in ("ci.yml", "deploy.yml"):
        for step in steps(load(name)):
            if "uses" in step:
                assert re.fullmatch(r"[\w-]+/[\w-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
