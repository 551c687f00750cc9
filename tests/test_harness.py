"""The test harness itself: `make test`'s pytest-xdist workers keep each module's tests together."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def test_under_make_test_this_module_is_one_xdist_group(request: pytest.FixtureRequest) -> None:
    """xdist names an item after its group; a module without one is spread over the workers, and each of them
    then builds the module's fixtures (tests/conftest.py says how that happened).

    Outside ``--dist loadgroup`` (a plain ``pytest`` run) the test runs itself under ``make test``'s options.
    """
    if getattr(request.config.option, "loadgroup", False):
        assert request.node.nodeid == (
            f"{__name__.replace('.', '/')}.py::{request.node.name}@tests/test_harness.py"
        )
        return
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider", "-q",
         f"{Path(__file__).relative_to(PROJECT_ROOT)}::{request.node.name}"],
        cwd=PROJECT_ROOT, env=os.environ, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0 and "1 passed" in run.stdout and "skipped" not in run.stdout, run.stdout
