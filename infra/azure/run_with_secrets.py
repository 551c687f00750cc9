#!/usr/bin/env python3
"""Entrypoint of flow-run containers on Azure: Key Vault secrets into the environment, then exec the command.

The work pool starts each flow run as ``run_with_secrets.py prefect flow-run execute``. Secrets never sit in
the container group's definition (readable by anyone who can read the resource group) nor in a file: this
reads each one with the container's managed identity (Key Vault Secrets User) and hands it to the flow run's
process environment only.

    LAKEHOUSE_KEYVAULT_URI=https://<vault>.vault.azure.net/
    LAKEHOUSE_KEYVAULT_SECRETS=LAKEHOUSE_API_TOKEN=app-events-api-token[,NAME=secret...]

Without LAKEHOUSE_KEYVAULT_URI it only execs (a container started by hand, a local run).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

KEY_VAULT_SCOPE = "https://vault.azure.net/.default"
KEY_VAULT_API_VERSION = "7.4"


def secret_names(spec: str) -> dict[str, str]:
    """``"A=one,B=two"`` -> ``{"A": "one", "B": "two"}`` (environment variable -> secret name)."""
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        variable, sep, secret = item.partition("=")
        if not sep or not variable or not secret:
            raise ValueError(f"LAKEHOUSE_KEYVAULT_SECRETS: expected NAME=secret-name, got {item!r}")
        pairs[variable] = secret
    return pairs


def read_secrets(vault_uri: str, names: Mapping[str, str], credential: Any, client: Any) -> dict[str, str]:
    """Each secret's current value, by environment variable, read over Key Vault's REST API."""
    token = credential.get_token(KEY_VAULT_SCOPE).token
    values: dict[str, str] = {}
    for variable, secret in names.items():
        response = client.get(
            f"{vault_uri.rstrip('/')}/secrets/{secret}",
            params={"api-version": KEY_VAULT_API_VERSION},
            headers={"Authorization": f"Bearer {token}"},
        )
        response.raise_for_status()
        values[variable] = response.json()["value"]
    return values


def main(argv: list[str], environ: Mapping[str, str]) -> dict[str, str]:
    """The environment to exec ``argv`` with."""
    if not argv:
        raise SystemExit("usage: run_with_secrets.py COMMAND [ARG...]")
    env = dict(environ)
    vault_uri = env.get("LAKEHOUSE_KEYVAULT_URI")
    if vault_uri:
        import httpx
        from azure.identity import DefaultAzureCredential

        names = secret_names(env.get("LAKEHOUSE_KEYVAULT_SECRETS", ""))
        with httpx.Client(timeout=30) as client:
            env |= read_secrets(vault_uri, names, DefaultAzureCredential(), client)
    return env


if __name__ == "__main__":
    command = sys.argv[1:]
    environment = main(command, os.environ)
    os.execvpe(command[0], command, environment)
