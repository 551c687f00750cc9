"""Fixtures of the infra/azure checks: the Bicep parsed by pycep and one checkov run, both in the tools venv.

checkov and pycep-parser pin libraries that clash with Prefect's, so `make setup-checks` (part of
`make test`) installs them into ``.cache/tools-venv`` (infra/azure/requirements-checks.txt) and these
fixtures call them as subprocesses.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra.settings import PROJECT_ROOT

AZURE_DIR = PROJECT_ROOT / "infra" / "azure"
TOOLS_BIN = PROJECT_ROOT / ".cache" / "tools-venv" / "bin"
BICEP_FILES = sorted(AZURE_DIR.rglob("*.bicep"))

# Runs in the tools venv: parse each file given on the command line, print {path: parsed} as JSON.
_PARSE = """
import json, sys
from pathlib import Path
from pycep import BicepParser
parser = BicepParser()
print(json.dumps({p: parser.parse(file_path=Path(p)) for p in sys.argv[1:]}, default=str))
"""


def tool(name: str) -> Path:
    path = TOOLS_BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: `make setup-checks` (part of `make test`) installs the checkers")
    return path


@pytest.fixture(scope="session")
def bicep() -> dict[str, dict[str, Any]]:
    """Every .bicep file of infra/azure/, parsed by pycep (the parser checkov uses), by relative path."""
    done = subprocess.run(
        [str(tool("python")), "-c", _PARSE, *map(str, BICEP_FILES)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    parsed = json.loads(done.stdout)
    return {str(Path(p).relative_to(AZURE_DIR)): tree for p, tree in parsed.items()}


@pytest.fixture(scope="session")
def checkov() -> tuple[int, dict[str, Any]]:
    """One checkov run over infra/azure/ (Bicep and secrets frameworks): exit code and the Bicep report."""
    done = subprocess.run(
        [
            str(tool("checkov")),
            "--directory",
            str(AZURE_DIR),
            "--framework",
            "bicep",
            "secrets",
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=PROJECT_ROOT,
    )
    reports = json.loads(done.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    return done.returncode, {r.get("check_type", "summary"): r for r in reports}
