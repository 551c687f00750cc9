"""delta-rs (``deltalake``) over the lake: the storage options that open a zone's Delta tables without Spark.

The same ``abfs(s)://`` URLs Spark writes (:meth:`infra.settings.Settings.lake_url`) open in delta-rs with
these options: locally the project's DFS endpoint with Azurite's development key, on Azure the account with
an Entra ID token from ``DefaultAzureCredential`` (delta-rs's Rust ``object_store`` takes a bearer token, not
a Python credential object). The ``file`` backend of unit tests needs none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from infra.identity import azure_credential
from infra.settings import Settings

STORAGE_SCOPE = "https://storage.azure.com/.default"


def storage_options(settings: Settings) -> dict[str, str]:
    """Options for ``deltalake.DeltaTable(settings.lake_url(...), storage_options=...)``.

    On Azure the token lasts about an hour: call this again for each new ``DeltaTable`` rather than keeping
    the options.
    """
    if settings.storage_backend == "file":
        return {}
    if settings.is_local:
        if settings.storage_key is None:
            raise ValueError("profile 'local' needs LAKEHOUSE_STORAGE_KEY (defaults to Azurite's key)")
        return {
            "account_name": settings.storage_account,
            "account_key": settings.storage_key.get_secret_value(),
            "azure_storage_endpoint": settings.dfs_url,
            "allow_http": "true",
        }
    token = azure_credential().get_token(STORAGE_SCOPE).token
    return {"account_name": settings.storage_account, "bearer_token": token}


def open_table(settings: Settings, url: str) -> Any | None:  # a deltalake.DeltaTable (no stubs)
    """The Delta table at ``url`` through delta-rs, or None when there is none."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(url, storage_options=storage_options(settings))
    except TableNotFoundError:
        return None


@dataclass(frozen=True)
class TableFacts:
    """What maintenance asks of a table, read from its Delta log alone (no Spark job)."""

    files: int  # data files of the current version
    oldest_commit: datetime  # the earliest commit the log still holds (UTC)


def table_facts(settings: Settings, url: str) -> TableFacts | None:
    """The file count and oldest commit of the Delta table at ``url`` (None: no table there)."""
    table = open_table(settings, url)
    if table is None:
        return None
    oldest = min(commit["timestamp"] for commit in table.history())
    return TableFacts(len(table.file_uris()), datetime.fromtimestamp(oldest / 1000, UTC))
