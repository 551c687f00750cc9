"""``python -m tests.conformance.eventhubs``: azure-eventhub's own live tests against the local endpoint.

Fetches the SDK's sdist (the same version as installed, via ``pip download``), unpacks its
``tests/livetest`` into ``.cache/conformance/``, and runs them with this folder's plugin in place of the SDK's
conftest (see :mod:`tests.conformance.eventhubs.plugin`). pytest-asyncio, which only these tests need, is
installed into ``.cache/conformance/site`` rather than the project's venv. Prints the counts and every test
that did not pass, with its reason; exits non-zero if a test failed. Extra arguments go to pytest
(``-k send``, ``-x``, ...).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ElementTree
from collections import Counter
from importlib.metadata import version
from pathlib import Path

from infra.settings import PROJECT_ROOT

SDK = "azure-eventhub"
PYTEST_ASYNCIO = "pytest-asyncio==1.5.0"
CACHE = PROJECT_ROOT / ".cache" / "conformance"
HERE = Path(__file__).parent

# Tests that cannot pass against a local endpoint, with the reason. They are deselected and listed in
# the summary (and in the README), so a failure of any other test is a real regression.
_WS = "AMQP over WebSockets: the endpoint speaks AMQP over TCP only (port 443 and websocket libraries unused)"
_TLS = (
    "opens a client without the suite's client_args (so with TLS, to port 5671): the endpoint, like "
    "Microsoft's emulator, is plain AMQP on its own port"
)
_SSL = "TLS with the caller's SSL context: the local endpoint has no TLS"
OUT_OF_SCOPE: dict[str, str] = {
    "synctests/test_send.py::test_send_over_websocket_sync": _WS,
    "asynctests/test_send_async.py::test_send_over_websocket_async": _WS,
    "synctests/test_receive.py::test_receive_over_websocket_sync": _WS,
    "asynctests/test_receive_async.py::test_receive_over_websocket_async": _WS,
    "synctests/test_send.py::test_send_with_create_event_batch_with_app_prop_sync": _WS,
    "asynctests/test_send_async.py::test_send_with_create_event_batch_async": _WS,
    "synctests/test_negative.py::test_invalid_proxy_server": _WS + " (an HTTP proxy carries WebSockets)",
    "asynctests/test_negative_async.py::test_invalid_proxy_server": _WS
    + " (an HTTP proxy carries WebSockets)",
    "synctests/test_auth.py::test_client_with_ssl_context": _SSL,
    "asynctests/test_auth_async.py::test_client_with_ssl_context_async": _SSL,
    "synctests/test_properties.py::test_get_partition_properties": _TLS
    + " (it passes client_args=client_args)",
    "synctests/test_send.py::test_send_amqp_annotated_message": _TLS + " (its consumer)",
    "synctests/test_reconnect.py::test_send_with_long_interval_sync": _TLS + " (its raw receiver)",
    "asynctests/test_reconnect_async.py::test_send_with_long_interval_async": _TLS + " (its raw receiver)",
    "asynctests/test_reconnect_async.py::test_send_connection_idle_timeout_and_reconnect_async": _TLS,
}


def sdk_tests(sdk_version: str) -> Path:
    """The unpacked ``tests/`` of the SDK's sdist (downloaded once)."""
    target = CACHE / f"{SDK}-{sdk_version}"
    if (target / "livetest").is_dir():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    archives = CACHE / "sdists"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:", "--no-deps",
         f"{SDK}=={sdk_version}", "-d", str(archives)],
        check=True,
    )  # fmt: skip
    archive = next(archives.glob(f"{SDK.replace('-', '_')}-{sdk_version}.tar.gz"))
    prefix = f"{SDK.replace('-', '_')}-{sdk_version}/tests/"
    with tarfile.open(archive) as tar:
        # only the live tests and the helper they import; the SDK's conftest is replaced by our plugin
        members = [
            m for m in tar.getmembers()
            if m.name.startswith(prefix + "livetest/") or m.name == prefix + "tracing_common.py"
        ]  # fmt: skip
        for member in members:
            member.name = member.name[len(prefix) :]
        tar.extractall(target, members=members, filter="data")
    return target


def pytest_asyncio_site() -> Path:
    site = CACHE / "site"
    if not (site / "pytest_asyncio").is_dir():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
             PYTEST_ASYNCIO],
            check=True,
        )  # fmt: skip
    return site


def summarize(report: Path) -> tuple[Counter[str], list[tuple[str, str, str]]]:
    """Counts by outcome and (outcome, test, reason) for every test that did not pass."""
    counts: Counter[str] = Counter()
    others: list[tuple[str, str, str]] = []
    for case in ElementTree.parse(report).iter("testcase"):
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
        outcome, reason = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                reason = (child.get("message") or "").splitlines()[0][:160] if child.get("message") else ""
                break
        counts[outcome] += 1
        if outcome != "passed":
            others.append((outcome, name, reason))
    return counts, others


def main(argv: list[str]) -> int:
    tests = sdk_tests(version(SDK))
    site = pytest_asyncio_site()
    env = {**os.environ, "PYTHONPATH": f"{PROJECT_ROOT}:{site}:{tests}"}
    # node ids are relative to the rootdir (the sdist's tests/); a prefix also drops every parametrization
    deselect = [arg for node in OUT_OF_SCOPE for arg in ("--deselect", f"livetest/{node}")]
    # arguments naming files or folders of livetest/ (``synctests/test_send.py``) narrow the run
    paths = [str(tests / "livetest" / a) for a in argv if (tests / "livetest" / a.split("::")[0]).exists()]
    argv = [a for a in argv if str(tests / "livetest" / a) not in paths]
    if not paths:
        paths = sorted(str(p) for p in (tests / "livetest").glob("*/test_*.py"))
    # The tests mostly wait (sleeps, timeouts), so files run in JOBS pytest processes at once, each with
    # its own endpoint; file by file, the whole suite takes about an hour, in 4 jobs about 25 minutes.
    jobs = max(1, min(int(os.environ.get("CONFORMANCE_JOBS", "4")), len(paths)))
    groups = [paths[i::jobs] for i in range(jobs)]
    runs = []
    for number, group in enumerate(groups):
        report = CACHE / f"report-{os.getpid()}-{number}.xml"
        command = [
            sys.executable, "-m", "pytest", *group,
            "-c", str(HERE / "pytest.ini"), "--rootdir", str(tests),
            "-p", "tests.conformance.eventhubs.plugin", "-p", "pytest_asyncio",
            # the suite's own switch: reconnect tests close the connection instead of idling 250 s
            "--sleep", "False",
            "--junitxml", str(report), "-q", *deselect, *argv,
        ]  # fmt: skip
        output = (CACHE / f"run-{number}.log").open("w")
        runs.append(
            (subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, stdout=output, stderr=output), report)
        )
        print(f"job {number}: {len(group)} files, output in {output.name}")
    counts: Counter[str] = Counter()
    others: list[tuple[str, str, str]] = []
    for process, report in runs:
        process.wait()
        if report.exists():
            job_counts, job_others = summarize(report)
            counts.update(job_counts)
            others.extend(job_others)
            report.unlink()
        else:
            counts["error"] += 1
            others.append(
                ("error", f"job of {report.name}", f"pytest exited {process.returncode} without a report")
            )
    total = sum(counts.values())
    print(f"\nazure-eventhub {version(SDK)} live tests against the local endpoint:")
    print(
        f"  {counts['passed']} passed, {counts['failed']} failed, {counts['error']} errors, "
        f"{counts['skipped']} skipped, of {total} run; {len(OUT_OF_SCOPE)} out of scope (deselected)"
    )
    for outcome, name, reason in sorted(others):
        print(f"  {outcome:8} {name}: {reason}")
    print("  out of scope:")
    for node, reason in OUT_OF_SCOPE.items():
        print(f"    {node}: {reason}")
    return 0 if not counts["failed"] and not counts["error"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
