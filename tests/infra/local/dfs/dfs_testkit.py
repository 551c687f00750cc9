"""Raw signed requests to the DFS endpoint, for what an SDK would never send (odd paths, tampering).

``http.client`` sends the target exactly as given: no dot-segment removal, no re-encoding.
"""

from __future__ import annotations

import base64
import dataclasses
import http.client
import json

from azure.storage.filedatalake import DataLakeServiceClient

from infra.local.dfs.auth import sign_for_azurite
from infra.local.dfs.blobstore import http_date
from infra.local.launcher import Launcher, ServiceSpec
from infra.settings import Settings
from infra.storage.lake import credential_for


@dataclasses.dataclass
class RawRequest:
    method: str
    target: str  # path and query, as sent
    headers: dict[str, str]
    body: bytes = b""


@dataclasses.dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def error(self) -> tuple[int, str, str]:
        """(status, x-ms-error-code header, code in the JSON body)."""
        code = json.loads(self.body)["error"]["code"] if self.body else ""
        return self.status, self.headers.get("x-ms-error-code", ""), code


def signed_request(
    settings: Settings,
    method: str,
    raw_path: str,
    query: list[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    key: bytes | None = None,
) -> RawRequest:
    """A Shared-Key-signed request for ``raw_path`` (already percent-encoded)."""
    secret = key or base64.b64decode(settings.storage_key.get_secret_value())
    query = query or []
    sent = {"x-ms-version": "2021-12-02", "x-ms-date": http_date(), **(headers or {})}
    if method in ("PUT", "POST", "PATCH"):
        sent["content-length"] = str(len(body))
    sent["authorization"] = sign_for_azurite(secret, settings.storage_account, method, raw_path, query, sent)
    target = raw_path + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")
    return RawRequest(method, target, sent, body)


def send(settings: Settings, request: RawRequest) -> RawResponse:
    connection = http.client.HTTPConnection(settings.host, settings.dfs_port, timeout=30)
    try:
        connection.request(request.method, request.target, body=request.body, headers=request.headers)
        response = connection.getresponse()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return RawResponse(response.status, headers, response.read())
    finally:
        connection.close()


@dataclasses.dataclass
class PrivateStack:
    """An Azurite + DFS pair of one test module, which tests may stop and start."""

    settings: Settings
    launcher: Launcher
    dfs: ServiceSpec

    def lake(self) -> DataLakeServiceClient:
        return DataLakeServiceClient(self.settings.dfs_url, credential=credential_for(self.settings))
