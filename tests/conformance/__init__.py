"""``make conformance``: azure-storage-file-datalake's own tests (from its sdist) in live mode against the
DFS endpoint. ``run`` starts Azurite + the endpoint and pytest; ``conformance_plugin`` selects the in-scope
tests and runs the async ones; ``devtools_testutils`` is a live-only stand-in for the Azure SDK repository's
test helpers (not on PyPI). Nothing in the CI suite imports from here."""
