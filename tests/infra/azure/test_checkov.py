"""checkov passes on infra/azure/: no failed check, no parse error, and every skip says why."""

from __future__ import annotations

import re
from typing import Any

from tests.infra.azure.conftest import AZURE_DIR


def test_checkov_passes(checkov: tuple[int, dict[str, Any]]) -> None:
    returncode, reports = checkov
    summary = reports["bicep"]["summary"]
    assert returncode == 0, reports["bicep"]["results"]["failed_checks"]
    assert summary["failed"] == 0
    assert summary["parsing_errors"] == 0
    assert summary["passed"] >= 14
    assert "secrets" not in reports  # the secrets framework found nothing to report


def test_every_skip_is_justified_inline(checkov: tuple[int, dict[str, Any]]) -> None:
    skipped = checkov[1]["bicep"]["results"]["skipped_checks"]
    assert len(skipped) == 13
    for check in skipped:
        reason = check["check_result"].get("suppress_comment", "")
        assert len(reason.split()) >= 5, f"{check['check_id']} in {check['file_path']}: {reason!r}"
    # Every skip comment in the Bicep is one checkov used: none is stale or misspelt.
    comments = [
        m.group(1)
        for path in AZURE_DIR.rglob("*.bicep")
        for m in re.finditer(r"checkov:skip=([A-Z0-9_]+):", path.read_text())
    ]
    assert sorted(comments) == sorted(c["check_id"] for c in skipped)
