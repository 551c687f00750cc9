"""``AsyncStorageRecordedTestCase``: the same helpers for the async test classes."""

from __future__ import annotations

from devtools_testutils.storage import StorageRecordedTestCase

__all__ = ["AsyncStorageRecordedTestCase"]


class AsyncStorageRecordedTestCase(StorageRecordedTestCase):
    """Async tests run to completion on their own event loop (see ``tests/conformance/plugin.py``)."""
