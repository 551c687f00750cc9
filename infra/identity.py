"""How the lakehouse signs in, in one place: the emulators' published keys locally, Entra ID on Azure.

On Azure every client takes :func:`azure_credential` (``DefaultAzureCredential``: ``az login``, a managed
identity or a workload identity); no key or secret is read from a file of this repository.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from infra.settings import Settings

if TYPE_CHECKING:
    from azure.core.credentials import AzureNamedKeyCredential, TokenCredential


@lru_cache(maxsize=1)
def azure_credential() -> TokenCredential:
    """The process's one DefaultAzureCredential (its token cache is shared by every client)."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def storage_credential(settings: Settings) -> AzureNamedKeyCredential | TokenCredential:
    """Shared key locally (Azurite's published key); DefaultAzureCredential on Azure."""
    if settings.is_local:
        from azure.core.credentials import AzureNamedKeyCredential

        if settings.storage_key is None:
            raise ValueError("profile 'local' needs LAKEHOUSE_STORAGE_KEY (defaults to Azurite's key)")
        return AzureNamedKeyCredential(settings.storage_account, settings.storage_key.get_secret_value())
    return azure_credential()
