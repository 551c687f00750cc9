"""The unmodified JavaScript SDK (@azure/event-hubs, pinned in package.json) against the endpoint.

``js/sdk_sequence.mjs`` runs a realistic sequence under ``node`` and prints what it observed: connection
string with key, batches with and without partition key and to a partition id, receiving from each partition,
hub and partition properties, a wrong key, and owner levels (epochs).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from infra.local.eventhubs.partition_key import partition_for_key
from infra.settings import PROJECT_ROOT
from tests.infra.local.eventhubs.conftest import Endpoint

pytestmark = pytest.mark.services

SCRIPT = Path(__file__).parent / "js" / "sdk_sequence.mjs"


def run_sequence(endpoint: Endpoint) -> dict:
    result = subprocess.run(
        ["node", str(SCRIPT)],
        env={
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "EH_CONNECTION_STRING": endpoint.connection_string,
            "EH_HUB": "js-hub",
            "EH_EPOCH_HUB": "js-epochs",
        },
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_javascript_sdk_sequence(endpoint: Endpoint) -> None:
    report = run_sequence(endpoint)
    assert "fatal" not in report, report["fatal"]
    assert report["hub"] == {"name": "js-hub", "partitionIds": ["0", "1"]}

    # What was sent, in order, and where Azure puts it: a batch without key goes to one partition (the
    # endpoint's turn starts at 0), keyed batches by the service's hash, the rest to the named partition.
    def event(body: object, key: str | None = None, properties: dict | None = None) -> dict:
        return {"body": body, "partitionKey": key, "properties": properties, "offsetIsString": True}

    sent = [("0", event(f"plain-{i}")) for i in range(6)]
    sent += [(str(partition_for_key("js-key", 2)), event(f"keyed-{i}", "js-key", {"n": i})) for i in range(4)]
    sent += [("1", event("to-partition-1"))]
    sent += [(str(partition_for_key("json-key", 2)), event({"json": True, "items": [1, 2]}, "json-key"))]
    expected = []
    for partition in ("0", "1"):
        bodies = [e for p, e in sent if p == partition]
        expected += [{"partition": partition, "sequenceNumber": n, **e} for n, e in enumerate(bodies)]
    assert report["received"] == expected
    assert report["receiveErrors"] == []
    assert report["partitions"] == {
        p: {
            "lastEnqueuedSequenceNumber": sum(1 for q, _ in sent if q == p) - 1,
            "isEmpty": False,
            "beginningSequenceNumber": 0,
        }
        for p in ("0", "1")
    }

    # a wrong key: the SDK's UnauthorizedError (Azure's 401), for management and for sending
    invalid = {
        "name": "MessagingError",
        "code": "UnauthorizedError",
        "message": "InvalidSignature: the token has an invalid signature.",
    }
    assert (report["wrongKey"], report["wrongKeySend"]) == (invalid, invalid)

    # owner level: epoch 2 takes the partition from epoch 1; a later epoch 1 is refused
    owner = report["ownerLevel"]
    assert owner["first"] == {
        "events": ["before-steal"],
        "error": {
            "name": "MessagingError",
            "code": "ReceiverDisconnectedError",
            "message": "New receiver with epoch 2 took over partition 0 of consumer group '$default'.",
        },
    }
    assert owner["second"] == {"events": ["after-steal"], "errors": 0}
    assert owner["lower"]["events"] == []
    assert owner["lower"]["error"]["code"] == "ReceiverDisconnectedError"
    assert owner["lower"]["error"]["message"].startswith("Receiver with epoch 1 refused")
