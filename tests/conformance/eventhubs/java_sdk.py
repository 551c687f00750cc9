"""``python -m tests.conformance.eventhubs.java_sdk``: the Java client against the local endpoint.

Resolves ``com.azure:azure-messaging-eventhubs`` (``java/pom.xml``) with Maven into ``.cache/m2``, starts the
endpoint with two hubs, runs ``java/JavaSdkSequence.java`` on the resolved class path and checks what it
printed: sending with and without partition key and to a partition, receiving each partition, partition
properties, a wrong key refused, and owner level. Behind ``make conformance-eventhubs`` (Maven and a JVM
start take a minute; the suite stays fast). Exits non-zero on a mismatch.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from infra.local.eventhubs.partition_key import partition_for_key
from infra.local.launcher import Launcher, running
from infra.local.services import eventhubs_spec
from infra.settings import PROJECT_ROOT
from tests.conftest import make_settings

HERE = Path(__file__).parent / "java"
CLASSPATH = PROJECT_ROOT / ".cache" / "eventhubs-java-classpath.txt"
HUBS = {"java-hub": 2, "java-epochs": 1}


def classpath() -> str:
    if not CLASSPATH.exists():
        subprocess.run(
            ["mvn", "-q", "-B", f"-Dmaven.repo.local={PROJECT_ROOT / '.cache' / 'm2'}",
             "dependency:build-classpath", f"-Dmdep.outputFile={CLASSPATH}"],
            cwd=HERE, check=True,
        )  # fmt: skip
    return CLASSPATH.read_text().strip()


def expected_lines() -> dict[str, str]:
    keyed = str(partition_for_key("java-key", 2))
    per_partition: dict[str, list[str]] = {"0": [], "1": []}
    for body, partition, key in [
        *((f"plain-{i}", "0", None) for i in range(5)),  # a batch without key: one partition (turn 0 first)
        *((f"keyed-{i}", keyed, "java-key") for i in range(3)),
        ("to-partition-1", "1", None),
    ]:
        events = per_partition[partition]
        events.append(f"{body}@{len(events)}:{key or 'null'}")
    return {
        "hub": "java-hub 0,1",
        **{f"partition.{p}": f"{len(e) - 1} false" for p, e in per_partition.items()},
        **{f"received.{p}": ",".join(e) for p, e in per_partition.items()},
        "epoch.first": "before-steal",
        "epoch.second": "after-steal",
        "done": "true",
    }


def main() -> int:
    cp = classpath()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        config = state / "Config.json"
        entities = [{"Name": n, "PartitionCount": c, "ConsumerGroups": []} for n, c in HUBS.items()]
        namespace = {"Type": "EventHub", "Name": "emulatorNs1", "Entities": entities}
        config.write_text(json.dumps({"UserConfig": {"NamespaceConfig": [namespace]}}))
        settings = make_settings(state, eventhubs_config=config, capture_enabled=False)
        with running(Launcher(settings.state_dir), [eventhubs_spec(settings)]):
            result = subprocess.run(
                ["java", "-cp", cp, str(HERE / "JavaSdkSequence.java"), settings.eventhubs_connection_string,
                 "java-hub", "java-epochs"],
                capture_output=True, text=True, timeout=300,
            )  # fmt: skip
    observed = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    expected = expected_lines()
    problems = [
        f"{name}: expected {want!r}, got {observed.get(name)!r}"
        for name, want in expected.items()
        if observed.get(name) != want
    ]
    wrong_key = observed.get("wrongKey", "")
    if not wrong_key.startswith("AmqpException: status-code: 401, status-description: InvalidSignature"):
        problems.append(f"wrongKey: expected the 401 of a bad signature, got {wrong_key!r}")
    stolen = observed.get("epoch.firstError", "")
    if not stolen.startswith("AmqpException: New receiver with epoch 2 took over partition 0"):
        problems.append(f"epoch.firstError: expected the link taken by epoch 2, got {stolen!r}")
    print("azure-messaging-eventhubs (Java) sequence against the local endpoint:")
    for name, value in observed.items():
        print(f"  {name} = {value}")
    if problems:
        print("MISMATCHES:\n  " + "\n  ".join(problems))
        if result.returncode:
            print(result.stderr[-3000:])
        return 1
    print(f"  all {len(expected) + 2} observations as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
