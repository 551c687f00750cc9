"""The Bicep of infra/azure/ parses with pycep, and its resources carry the settings a reviewer expects."""

from __future__ import annotations

import re
from typing import Any

from tests.infra.azure.conftest import AZURE_DIR, BICEP_FILES

MODULES = {
    "compute.bicep",
    "databricks.bicep",
    "eventhubs.bicep",
    "identity.bicep",
    "keyvault.bicep",
    "monitoring.bicep",
    "registry.bicep",
    "roles.bicep",
    "storage.bicep",
}
# Built-in role definition ids (the same in every tenant): Azure built-in roles reference.
BUILT_IN_ROLES = {
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Azure Event Hubs Data Sender": "2b629674-e913-4c01-ae53-ef4638d8f975",
    "Azure Event Hubs Data Receiver": "a638d3c7-ab3a-418d-83e6-5f17a39d4fde",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "Managed Identity Operator": "f1a07417-d97a-45cb-824c-7a7467783830",
}


def config(tree: dict[str, Any], resource: str) -> dict[str, Any]:
    """A resource's body; loops and conditions nest it one level deeper in pycep's tree."""
    body = tree["resources"][resource]["config"]
    return body["config"] if "loop_type" in body or "condition" in body else body


def test_every_bicep_file_parses(bicep: dict[str, dict[str, Any]]) -> None:
    assert sorted(bicep) == ["main.bicep", *sorted(f"modules/{m}" for m in MODULES)]
    assert len(BICEP_FILES) == 10
    for path, tree in bicep.items():
        assert tree.get("resources") or tree.get("modules"), path


def test_main_wires_every_module(bicep: dict[str, dict[str, Any]]) -> None:
    modules = bicep["main.bicep"]["modules"]
    assert {m["detail"]["path"] for m in modules.values()} == {f"modules/{m}" for m in MODULES}
    environments = bicep["main.bicep"]["parameters"]["environmentName"]["decorators"][0]["argument"]
    assert environments == ["dev", "prod"]
    assert (AZURE_DIR / "parameters" / "dev.json").exists() and (
        AZURE_DIR / "parameters" / "prod.json"
    ).exists()


def test_storage_is_adls_gen2_locked_down(bicep: dict[str, dict[str, Any]]) -> None:
    storage = bicep["modules/storage.bicep"]
    props = config(storage, "account")["properties"]
    assert props["isHnsEnabled"] is True
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["supportsHttpsTrafficOnly"] is True
    assert props["allowBlobPublicAccess"] is False
    assert props["allowSharedKeyAccess"] == "allowSharedKeyAccess"  # a parameter ...
    assert bicep["main.bicep"]["parameters"]["allowSharedKeyAccess"]["default"] is False  # ... off by default
    assert props["defaultToOAuthAuthentication"] is True
    blob = config(storage, "blobService")["properties"]
    assert blob["deleteRetentionPolicy"] == {"enabled": True, "days": "softDeleteDays"}
    assert blob["containerDeleteRetentionPolicy"] == {"enabled": True, "days": "softDeleteDays"}
    lock = storage["resources"]["lock"]["config"]
    assert lock["condition"] == "deleteLock"
    assert lock["config"]["properties"]["level"] == "CanNotDelete"
    containers = storage["resources"]["containers"]["config"]
    assert containers["loop_type"]["detail"]["array_name"] == "containerNames"
    assert containers["config"]["properties"] == {"publicAccess": "None"}


def test_event_hubs_standard_entra_only_with_capture_by_identity(bicep: dict[str, dict[str, Any]]) -> None:
    hubs = bicep["modules/eventhubs.bicep"]
    namespace = config(hubs, "namespace")
    assert namespace["sku"]["name"] == "Standard"
    assert namespace["properties"]["disableLocalAuth"] is True
    assert namespace["properties"]["minimumTlsVersion"] == "1.2"
    capture = config(hubs, "hub")["properties"]["captureDescription"]
    assert capture["enabled"] is True
    assert capture["encoding"] == "Avro"
    assert capture["destination"]["name"] == "EventHubArchive.AzureBlockBlob"
    assert capture["destination"]["identity"] == {
        "type": "UserAssigned",
        "userAssignedIdentity": "captureIdentityId",
    }
    assert capture["destination"]["properties"]["blobContainer"] == "captureContainer"
    groups = hubs["resources"]["groups"]["config"]
    assert groups["loop_type"]["detail"]["array_name"] == "consumerGroups"


def test_role_definition_ids_are_the_built_in_ones(bicep: dict[str, dict[str, Any]]) -> None:
    roles = bicep["modules/roles.bicep"]["variables"]["builtInRoles"]["value"]
    assert {name.strip("'"): guid for name, guid in roles.items()} == BUILT_IN_ROLES
    blob = BUILT_IN_ROLES["Storage Blob Data Contributor"]
    for module in ("storage.bicep", "databricks.bicep"):
        assert bicep[f"modules/{module}"]["variables"]["blobDataContributor"]["value"] == blob


def test_runtime_identity_gets_the_roles_the_code_needs(bicep: dict[str, dict[str, Any]]) -> None:
    roles = bicep["modules/roles.bicep"]["resources"]
    runtime = {
        name: str(config({"resources": roles}, name)["properties"]["roleDefinitionId"])
        for name in ("runtimeBlob", "runtimeSender", "runtimeReceiver", "runtimeSecrets", "runtimePull")
    }
    for role in (
        "Storage Blob Data Contributor",
        "Azure Event Hubs Data Sender",
        "Azure Event Hubs Data Receiver",
    ):
        assert any(role in definition for definition in runtime.values()), role
    for name in runtime:
        assert config({"resources": roles}, name)["properties"]["principalId"] == "runtimePrincipalId"


def test_worker_role_is_narrow(bicep: dict[str, dict[str, Any]]) -> None:
    role = config(bicep["modules/roles.bicep"], "workerRole")["properties"]
    assert role["assignableScopes"] != ["subscription().id"]
    actions = role["permissions"][0]["actions"]
    assert all(a.startswith(("Microsoft.Resources/", "Microsoft.ContainerInstance/")) for a in actions)
    assert "*" not in "".join(actions)


def test_key_vault_rbac_soft_delete_purge_protection(bicep: dict[str, dict[str, Any]]) -> None:
    vault = config(bicep["modules/keyvault.bicep"], "vault")["properties"]
    assert vault["enableRbacAuthorization"] is True
    assert vault["enableSoftDelete"] is True
    assert vault["enablePurgeProtection"] is True
    secret = bicep["modules/keyvault.bicep"]["resources"]["apiTokenSecret"]["config"]
    assert secret["condition"] is not None  # only when a token is passed as a secure parameter
    assert bicep["modules/keyvault.bicep"]["parameters"]["apiToken"]["decorators"][0]["type"] == "secure"


def test_every_service_sends_diagnostics_to_log_analytics(bicep: dict[str, dict[str, Any]]) -> None:
    expected = {
        "storage.bicep": {"accountDiagnostics", "blobDiagnostics"},
        "eventhubs.bicep": {"diagnostics"},
        "keyvault.bicep": {"diagnostics"},
        "registry.bicep": {"diagnostics"},
        "databricks.bicep": {"diagnostics"},
    }
    for module, names in expected.items():
        resources = bicep[f"modules/{module}"]["resources"]
        found = {n for n, r in resources.items() if r["type"] == "Microsoft.Insights/diagnosticSettings"}
        assert found == names, module
        for name in names:
            assert (
                config(bicep[f"modules/{module}"], name)["properties"]["workspaceId"]
                == "logAnalyticsWorkspaceId"
            )
    environment = config(bicep["modules/compute.bicep"], "managedEnvironment")["properties"]
    assert environment["appLogsConfiguration"]["destination"] == "log-analytics"


def test_tagged_resources_and_names(bicep: dict[str, dict[str, Any]]) -> None:
    untaggable = {
        "Microsoft.Authorization/roleAssignments",
        "Microsoft.Authorization/roleDefinitions",
        "Microsoft.Authorization/locks",
    }
    for path, tree in bicep.items():
        for name, resource in tree.get("resources", {}).items():
            body = config(tree, name)
            if resource["existing"] or resource["type"] in untaggable or "parent" in body or "scope" in body:
                continue
            assert body.get("tags") == "tags", f"{path}: {name} has no tags"
    main = bicep["main.bicep"]
    assert set(main["variables"]["defaultTags"]["value"]) == {
        "workload",
        "environment",
        "owner",
        "costCenter",
        "managedBy",
        "repository",
    }


def test_registry_has_no_admin_user(bicep: dict[str, dict[str, Any]]) -> None:
    registry = config(bicep["modules/registry.bicep"], "registry")["properties"]
    assert registry["adminUserEnabled"] is False


def test_modules_get_exactly_their_parameters(bicep: dict[str, dict[str, Any]]) -> None:
    """What `bicep build` would refuse: a module given an unknown parameter, or missing a required one."""
    for symbol, module in bicep["main.bicep"]["modules"].items():
        declared = bicep[module["detail"]["path"]]["parameters"]
        body = module["config"]
        given = set((body["config"] if "condition" in body else body)["params"])
        required = {name for name, p in declared.items() if p.get("default") is None}
        assert given <= set(declared), f"{symbol}: unknown {given - set(declared)}"
        assert required <= given, f"{symbol}: missing {required - given}"


def test_outputs_used_by_main_exist(bicep: dict[str, dict[str, Any]]) -> None:
    """Every `<module>.outputs.<name>` main.bicep reads is an output of that module."""
    main = bicep["main.bicep"]
    text = (AZURE_DIR / "main.bicep").read_text()
    paths = {symbol: m["detail"]["path"] for symbol, m in main["modules"].items()}
    used = set(re.findall(r"\b(\w+)\.outputs\.(\w+)", text))
    assert len(used) >= 20
    for symbol, output in used:
        assert output in bicep[paths[symbol]]["outputs"], f"{symbol}.outputs.{output}"


def test_every_parameter_and_variable_is_used(bicep: dict[str, dict[str, Any]]) -> None:
    """Bicep's linter flags unused parameters and variables: a dead one is usually a wiring mistake."""
    for path, tree in bicep.items():
        text = re.sub(r"//[^\n]*", "", (AZURE_DIR / path).read_text())
        for name in [*tree.get("parameters", {}), *tree.get("variables", {})]:
            assert len(re.findall(rf"\b{name}\b", text)) >= 2, f"{path}: {name} is never used"
