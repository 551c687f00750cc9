"""A live-only stand-in for the fixtures of azure-eventhub's own live tests, mapped onto the local endpoint.

The SDK's ``tests/conftest.py`` creates one event hub per test through ARM (``azure-mgmt-eventhub``) and
signs in with ``devtools_testutils.get_credential()``. This plugin replaces both: the session starts the
project's endpoint once (through the launcher, a real process) with a Config.json declaring a pool of
2-partition hubs, and each test takes the next unused hub, so no test sees another's events. The AAD
credential becomes a token credential that hands out namespace-wide SAS tokens (the endpoint verifies them
like Azure does). Fixtures that need what the endpoint does not have skip with the reason:
storage accounts for checkpoint stores (``AZURE_STORAGE_ACCOUNT``), ARM updates (``resource_mgmt_client``),
the fault injector and the AMQP recording proxy.

Loaded by ``python -m tests.conformance.eventhubs`` with ``-p tests.conformance.eventhubs.plugin``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import urllib.parse
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from infra.local.launcher import Launcher, running
from infra.local.services import eventhubs_spec
from infra.settings import Settings
from tests.conftest import make_settings

PARTITION_COUNT = 2  # what the SDK's conftest creates per test
HUB_POOL = int(os.environ.get("CONFORMANCE_HUBS", "240"))
KEY_NAME = "RootManageSharedAccessKey"


# --- the devtools_testutils stand-in --------------------------------------------------------------


def sas_token(audience: str, key_name: str, key: str, ttl_seconds: int = 3600) -> tuple[str, int]:
    """A ``SharedAccessSignature`` for ``audience`` and its expiry (unix seconds)."""
    expires_at = int(time.time()) + ttl_seconds
    resource = urllib.parse.quote_plus(audience)
    digest = hmac.new(key.encode(), f"{resource}\n{expires_at}".encode(), hashlib.sha256).digest()
    signature = urllib.parse.quote_plus(base64.b64encode(digest))
    token = f"SharedAccessSignature sr={resource}&sig={signature}&se={expires_at}&skn={key_name}"
    return token, expires_at


class LocalTokenCredential:
    """What ``devtools_testutils.get_credential()`` gives the tests: a TokenCredential (no SAS class).

    The SDK treats it as an AAD credential (token type ``jwt``, scope ``https://eventhubs.azure.net/.default``);
    the token it returns is a namespace-wide SAS token, which is what the local endpoint accepts.
    """

    def __init__(self, namespace: str, key_name: str, key: str) -> None:
        self._audience = f"sb://{namespace}/"
        self._key_name = key_name
        self._key = key

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        token, expires_at = sas_token(self._audience, self._key_name, self._key)
        return AccessToken(token, expires_at)

    def close(self) -> None:
        pass

    def __enter__(self) -> LocalTokenCredential:
        return self

    def __exit__(self, *args: object) -> None:
        pass


class LocalAsyncTokenCredential(LocalTokenCredential):
    """The async flavour (``get_credential(is_async=True)``)."""

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return LocalTokenCredential.get_token(self, *scopes, **kwargs)

    async def close(self) -> None:
        pass

    async def __aenter__(self) -> LocalAsyncTokenCredential:
        return self

    async def __aexit__(self, *args: object) -> None:
        pass


# --- the session's endpoint and its hub pool -----------------------------------------------------


class HubPool:
    """The 2-partition hubs the endpoint was started with; each test takes a fresh one."""

    def __init__(self, settings: Settings, names: list[str]) -> None:
        self.settings = settings
        self._free = list(reversed(names))

    @property
    def key(self) -> str:
        assert self.settings.eventhubs_key is not None
        return self.settings.eventhubs_key.get_secret_value()

    def take(self) -> str:
        if not self._free:
            raise RuntimeError(f"all {HUB_POOL} conformance hubs are used; raise CONFORMANCE_HUBS")
        return self._free.pop()


def write_pool_config(path: Path, names: list[str]) -> Path:
    entities = [{"Name": name, "PartitionCount": PARTITION_COUNT, "ConsumerGroups": []} for name in names]
    namespace = {"Type": "EventHub", "Name": "emulatorNs1", "Entities": entities}
    path.write_text(json.dumps({"UserConfig": {"NamespaceConfig": [namespace]}}, indent=1))
    return path


@pytest.fixture(scope="session")
def local_hubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubPool]:
    state = tmp_path_factory.mktemp("eventhubs-conformance")
    names = [f"eh{i:04d}" for i in range(HUB_POOL)]
    settings = make_settings(
        state, eventhubs_config=write_pool_config(state / "Config.json", names), capture_enabled=False
    )
    with running(Launcher(settings.state_dir), [eventhubs_spec(settings)]):
        yield HubPool(settings, names)


def connection_string(namespace: str, key_name: str, key: str, hub: str) -> str:
    return (
        f"Endpoint=sb://{namespace}/;SharedAccessKeyName={key_name};SharedAccessKey={key};"
        f"UseDevelopmentEmulator=true;EntityPath={hub}"
    )


# --- the fixtures of the SDK's conftest, by name -------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--sleep", action="store", default="True", help="sleep on reconnect test: True or False")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "liveTest: mark test to be a live test only")
    config.addinivalue_line("markers", "no_amqpproxy: mark test to opt out of amqp proxy recording")


@pytest.fixture
def sleep(request: pytest.FixtureRequest) -> bool:
    return str(request.config.getoption("--sleep")).lower() in ("true", "yes", "1", "y")


@pytest.fixture(scope="session", params=[False], ids=["pyamqp"])
def uamqp_transport(request: pytest.FixtureRequest) -> bool:
    return request.param  # uamqp is not installed: the SDK's pure-Python AMQP stack only


@pytest.fixture(scope="session", params=["amqp", "ws"], ids=["amqp", "ws"])
def socket_transport(request: pytest.FixtureRequest) -> Any:
    from azure.eventhub import TransportType

    if request.param == "ws":
        pytest.skip("AMQP over WebSockets: the local endpoint speaks AMQP over TCP only")
    return TransportType.Amqp


@pytest.fixture(scope="session")
def timeout_factor(uamqp_transport: bool) -> int:
    return 1000 if uamqp_transport else 1


@pytest.fixture(scope="session")
def storage_url() -> str:
    pytest.skip("checkpoint-store tests need a real Azure storage account (AZURE_STORAGE_ACCOUNT)")


@pytest.fixture
def checkpoint_store(storage_url: str) -> None:
    return None


@pytest.fixture
def checkpoint_store_aio(storage_url: str) -> None:
    return None


@pytest.fixture
def resource_mgmt_client() -> None:
    pytest.skip("needs ARM (azure-mgmt-eventhub) to update a hub while it is read")


@pytest.fixture
def faultinjector() -> None:
    pytest.skip("needs Microsoft's AMQP fault injector (USE_FAULTINJECTOR)")


@pytest.fixture(scope="session")
def get_credential(local_hubs: HubPool) -> Callable[..., Any]:
    namespace = local_hubs.settings.eventhubs_host

    def factory(is_async: bool = False, **_kwargs: Any) -> Any:
        kind = LocalAsyncTokenCredential if is_async else LocalTokenCredential
        return kind(namespace, KEY_NAME, local_hubs.key)

    return factory


@pytest.fixture(scope="session")
def get_credential_async(get_credential: Callable[..., Any]) -> Callable[..., Any]:
    return partial(get_credential, is_async=True)


@pytest.fixture(scope="session")
def resource_group() -> str:
    return "local"


@pytest.fixture(scope="session")
def eventhub_namespace(local_hubs: HubPool) -> tuple[str, str, str, str]:
    host = local_hubs.settings.eventhubs_host
    conn = f"Endpoint=sb://{host}/;SharedAccessKeyName={KEY_NAME};SharedAccessKey={local_hubs.key};"
    return "emulatorNs1", conn + "UseDevelopmentEmulator=true;", KEY_NAME, local_hubs.key


@pytest.fixture
def live_eventhub(local_hubs: HubPool) -> dict[str, str]:
    hub = local_hubs.take()
    host = local_hubs.settings.eventhubs_host
    return {
        "resource_group": "local",
        "hostname": host,
        "key_name": KEY_NAME,
        "access_key": local_hubs.key,
        "namespace": "emulatorNs1",
        "event_hub": hub,
        "consumer_group": "$Default",
        "partition": "0",
        "connection_str": connection_string(host, KEY_NAME, local_hubs.key, hub),
    }


@pytest.fixture
def connection_str(live_eventhub: dict[str, str]) -> str:
    return live_eventhub["connection_str"]


@pytest.fixture
def skip_amqp_proxy() -> bool:
    return True


@pytest.fixture
def client_args() -> dict[str, Any]:
    """What every test passes to its clients: plain AMQP over TCP, as to Microsoft's emulator."""
    return {"use_tls": False}


@pytest.fixture(autouse=True)
def amqpproxy() -> None:
    """The SDK's recording proxy: never used here."""


@pytest.fixture
def invalid_hostname(live_eventhub: dict[str, str]) -> str:
    return connection_string(
        "invalid123.servicebus.windows.net", KEY_NAME, live_eventhub["access_key"], live_eventhub["event_hub"]
    )


@pytest.fixture
def invalid_key(live_eventhub: dict[str, str]) -> str:
    return connection_string(live_eventhub["hostname"], KEY_NAME, "invalid", live_eventhub["event_hub"])


@pytest.fixture
def invalid_policy(live_eventhub: dict[str, str]) -> str:
    return connection_string(
        live_eventhub["hostname"], "invalid", live_eventhub["access_key"], live_eventhub["event_hub"]
    )


def _receivers(live_eventhub: dict[str, str], client_args: dict[str, Any], timeout: int) -> list[Any]:
    """One raw pyamqp receiver per partition, as the SDK's conftest opens them (SAS-token auth)."""
    from azure.eventhub._pyamqp import ReceiveClient
    from azure.eventhub._pyamqp.authentication import SASTokenAuth

    uri = f"sb://{live_eventhub['hostname']}/{live_eventhub['event_hub']}"
    receivers = []
    for partition in range(PARTITION_COUNT):
        source = (
            f"amqps://{live_eventhub['hostname']}/{live_eventhub['event_hub']}/ConsumerGroups/"
            f"{live_eventhub['consumer_group']}/Partitions/{partition}"
        )
        auth = SASTokenAuth(uri, uri, live_eventhub["key_name"], live_eventhub["access_key"])
        receiver = ReceiveClient(
            live_eventhub["hostname"], source, auth=auth, network_trace=False, timeout=timeout,
            link_credit=500, **client_args,
        )  # fmt: skip
        receiver.open()
        receivers.append(receiver)
    return receivers


@pytest.fixture
def connstr_receivers(
    live_eventhub: dict[str, str], uamqp_transport: bool, client_args: dict[str, Any]
) -> Iterator[tuple[str, list[Any]]]:
    receivers = _receivers(live_eventhub, client_args, timeout=0)
    yield live_eventhub["connection_str"], receivers
    for receiver in receivers:
        receiver.close()


@pytest.fixture
def auth_credentials(live_eventhub: dict[str, str], get_credential: Callable[..., Any]) -> tuple[Any, ...]:
    return live_eventhub["hostname"], live_eventhub["event_hub"], get_credential


@pytest.fixture
def auth_credentials_async(
    live_eventhub: dict[str, str], get_credential_async: Callable[..., Any]
) -> tuple[Any, ...]:
    return live_eventhub["hostname"], live_eventhub["event_hub"], get_credential_async


@pytest.fixture
def auth_credential_receivers(
    live_eventhub: dict[str, str], client_args: dict[str, Any], get_credential: Callable[..., Any]
) -> Iterator[tuple[Any, ...]]:
    receivers = _receivers(live_eventhub, client_args, timeout=30)
    yield live_eventhub["hostname"], live_eventhub["event_hub"], get_credential, receivers
    for receiver in receivers:
        receiver.close()


@pytest.fixture
def auth_credential_receivers_async(
    live_eventhub: dict[str, str], client_args: dict[str, Any], get_credential_async: Callable[..., Any]
) -> Iterator[tuple[Any, ...]]:
    receivers = _receivers(live_eventhub, client_args, timeout=30)
    yield live_eventhub["hostname"], live_eventhub["event_hub"], get_credential_async, receivers
    for receiver in receivers:
        receiver.close()


def _senders(
    live_eventhub: dict[str, str], client_args: dict[str, Any], credential: Any
) -> tuple[Any, list[Any]]:
    from azure.eventhub import EventHubProducerClient

    client = EventHubProducerClient(
        fully_qualified_namespace=live_eventhub["hostname"], eventhub_name=live_eventhub["event_hub"],
        credential=credential, uamqp_transport=False, **client_args,
    )  # fmt: skip
    return client, [client._create_producer(partition_id=p) for p in client.get_partition_ids()]


@pytest.fixture
def auth_credential_senders(
    live_eventhub: dict[str, str], client_args: dict[str, Any], get_credential: Callable[..., Any]
) -> Iterator[tuple[Any, ...]]:
    client, senders = _senders(live_eventhub, client_args, get_credential())
    yield live_eventhub["hostname"], live_eventhub["event_hub"], get_credential, senders
    for sender in senders:
        sender.close()
    client.close()


@pytest.fixture
def auth_credential_senders_async(
    live_eventhub: dict[str, str], client_args: dict[str, Any], get_credential: Callable[..., Any],
    get_credential_async: Callable[..., Any],
) -> Iterator[tuple[Any, ...]]:  # fmt: skip
    client, senders = _senders(live_eventhub, client_args, get_credential())
    yield live_eventhub["hostname"], live_eventhub["event_hub"], get_credential_async, senders
    for sender in senders:
        sender.close()
    client.close()
