"""The flow-run entrypoint: Key Vault secrets into the environment (REST, managed identity), then exec."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
from types import ModuleType, SimpleNamespace

import httpx
import pytest

from tests.infra.azure.conftest import AZURE_DIR

SCRIPT = AZURE_DIR / "run_with_secrets.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_with_secrets", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeCredential:
    def __init__(self) -> None:
        self.scopes: list[str] = []

    def get_token(self, scope: str) -> SimpleNamespace:
        self.scopes.append(scope)
        return SimpleNamespace(token="t0ken")


def test_secret_names() -> None:
    module = load()
    assert module.secret_names("LAKEHOUSE_API_TOKEN=app-events-api-token, X=y") == {
        "LAKEHOUSE_API_TOKEN": "app-events-api-token",
        "X": "y",
    }
    assert module.secret_names("") == {}
    with pytest.raises(ValueError, match="NAME=secret-name"):
        module.secret_names("LAKEHOUSE_API_TOKEN")


def test_read_secrets_over_rest() -> None:
    module = load()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"value": "the-token", "id": str(request.url)})

    credential = FakeCredential()
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        values = module.read_secrets(
            "https://kv-lakehouse-dev-q3x7rk.vault.azure.net/",
            {"LAKEHOUSE_API_TOKEN": "app-events-api-token"},
            credential,
            client,
        )
    assert values == {"LAKEHOUSE_API_TOKEN": "the-token"}
    assert credential.scopes == ["https://vault.azure.net/.default"]
    assert [str(r.url) for r in seen] == [
        "https://kv-lakehouse-dev-q3x7rk.vault.azure.net/secrets/app-events-api-token?api-version=7.4"
    ]
    assert seen[0].headers["Authorization"] == "Bearer t0ken"


def test_read_secrets_fails_loudly_when_denied() -> None:
    module = load()
    transport = httpx.MockTransport(
        lambda request: httpx.Response(403, json={"error": {"code": "Forbidden"}})
    )
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.HTTPStatusError):
        module.read_secrets("https://kv.vault.azure.net", {"A": "b"}, FakeCredential(), client)


def test_without_a_vault_it_only_passes_the_environment_on() -> None:
    module = load()
    assert module.main(["prefect", "flow-run", "execute"], {"PATH": "/bin"}) == {"PATH": "/bin"}
    with pytest.raises(SystemExit):
        module.main([], {})


def test_script_is_executable_with_a_shebang() -> None:
    assert SCRIPT.read_text().startswith("#!/usr/bin/env python3\n")
    assert SCRIPT.stat().st_mode & stat.S_IXUSR
    assert json.dumps(os.fspath(SCRIPT))  # a plain path, the work pool's `entrypoint`
