"""The test harness itself: `make test`'s pytest-xdist workers keep each module's tests together."""

from __future__ import annotations

import pytest


def test_under_make_test_this_module_is_one_xdist_group(request: pytest.FixtureRequest) -> None:
    """xdist names an item after its group; a module without one is spread over the workers, and each of them
    then builds the module's fixtures (tests/conftest.py says how that happened)."""
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("checks pytest-xdist's `--dist loadgroup` workers (make test); this run has none")
    assert (
        request.node.nodeid == f"{__name__.replace('.', '/')}.py::{request.node.name}@tests/test_harness.py"
    )
