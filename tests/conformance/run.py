"""``python -m tests.conformance.run``: the DataLake SDK's own tests, live, against a fresh local endpoint.

1. Downloads the sdist of the installed azure-storage-file-datalake (``pip download``) into
   ``.cache/conformance`` once and unpacks it; its ``tests/`` folder is what runs.
2. Starts Azurite and the DFS endpoint on free ports, state in a temporary folder.
3. Runs pytest on the in-scope test files (sync and async) with the ``devtools_testutils`` stand-in and
   ``conformance_plugin`` and prints passed / failed / skipped per file, the total, and what was excluded.

Extra arguments go to pytest (``-k``, ``-x``, a test id relative to the sdist's ``tests/``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from importlib.metadata import version
from pathlib import Path

from infra.local.launcher import Launcher, free_port, running
from infra.local.services import azurite_spec, dfs_spec
from infra.settings import PROJECT_ROOT, Settings

PACKAGE = "azure-storage-file-datalake"
HERE = Path(__file__).parent
CACHE = PROJECT_ROOT / ".cache" / "conformance"
TEST_FILES = [
    f"test_{name}{suffix}.py"
    for name in ("file_system", "directory", "file", "datalake_service_client", "large_file")
    for suffix in ("", "_async")
]


def sdist_tests() -> Path:
    """The ``tests/`` folder of the installed version's sdist (downloaded and unpacked once)."""
    installed = version(PACKAGE)
    unpacked = CACHE / f"azure_storage_file_datalake-{installed}"
    if not (unpacked / "tests").is_dir():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"{PACKAGE}=={installed}",
                "-d",
                str(CACHE),
            ],
            check=True,
        )
        archive = CACHE / f"azure_storage_file_datalake-{installed}.tar.gz"
        with tarfile.open(archive) as tar:
            tar.extractall(CACHE, filter="data")
    return unpacked / "tests"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.conformance.run", description=__doc__)
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (default: the in-scope test files)")
    args, extra = parser.parse_known_args(argv)
    tests = sdist_tests()
    with tempfile.TemporaryDirectory(prefix="conformance-") as state:
        settings = Settings(state_dir=Path(state), blob_port=free_port(), dfs_port=free_port())
        key = settings.storage_key.get_secret_value() if settings.storage_key else ""
        report = Path(state) / "report.json"
        env = os.environ | {
            "PYTHONPATH": os.pathsep.join([str(HERE), str(PROJECT_ROOT)]),
            "CONFORMANCE_DFS_URL": settings.dfs_url,
            "CONFORMANCE_REPORT": str(report),
            "DATALAKE_STORAGE_ACCOUNT_NAME": settings.storage_account,
            "DATALAKE_STORAGE_ACCOUNT_KEY": key,
            "AZURE_TEST_RUN_LIVE": "true",
            "AZURE_SKIP_LIVE_RECORDING": "true",
        }
        ini = Path(state) / "pytest.ini"
        ini.write_text("[pytest]\n")
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            str(ini),
            "--rootdir",
            str(tests),
            "-p",
            "conformance_plugin",
            "-p",
            "no:cacheprovider",
            "-q",
            "--timeout=300",
            *(args.pytest_args or TEST_FILES),
            *extra,
        ]
        with running(Launcher(settings.state_dir), [azurite_spec(settings), dfs_spec(settings)]):
            subprocess.run(command, cwd=tests, env=env, check=False)
        if not report.exists():
            print("pytest wrote no report", file=sys.stderr)
            return 2
        summary(json.loads(report.read_text()))
    return 0


def summary(report: dict[str, dict[str, str]]) -> None:
    outcomes, excluded = report["outcomes"], report["excluded"]
    by_file: dict[str, Counter[str]] = {}
    for nodeid, outcome in outcomes.items():
        by_file.setdefault(nodeid.split("::")[0], Counter())[outcome] += 1
    print(
        "\nconformance: azure-storage-file-datalake", version(PACKAGE), "tests, live, on the local endpoint"
    )
    print(f"{'file':42} {'passed':>7} {'failed':>7} {'skipped':>8}")
    total: Counter[str] = Counter()
    for name in sorted(by_file):
        counts = by_file[name]
        total.update(counts)
        print(f"{name:42} {counts['passed']:7} {counts['failed']:7} {counts['skipped']:8}")
    ran = total["passed"] + total["failed"]
    print(f"{'total':42} {total['passed']:7} {total['failed']:7} {total['skipped']:8}")
    print(
        f"\npassed {total['passed']} of {ran} in scope ({total['skipped']} skipped by the tests themselves)"
    )
    reasons = Counter(excluded.values())
    print(
        f"excluded as out of scope: {len(excluded)} ("
        + ", ".join(f"{r}: {n}" for r, n in reasons.items())
        + ")"
    )
    for reason in reasons:
        print(f"  {reason}:")
        for nodeid in sorted(n for n, r in excluded.items() if r == reason):
            print("    " + nodeid)
    failed = sorted(n for n, o in outcomes.items() if o == "failed")
    if failed:
        print("\nfailed:")
        for nodeid in failed:
            print("  " + nodeid)


if __name__ == "__main__":
    sys.exit(main())
