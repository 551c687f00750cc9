"""Code hygiene that no linter here checks: every ``# type: ignore`` names its error code and says why."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("flows", "ingestion", "transforms", "infra", "powerbi", "bench", "tests", "notebooks")
IGNORE = re.compile(r"#\s*type:\s*ignore")
EXPLAINED = re.compile(r"#\s*type:\s*ignore\[[-a-z, ]+\]\s+#\s*\S.{3,}")


def test_every_type_ignore_has_a_code_and_a_reason() -> None:
    bare = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in FOLDERS
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if IGNORE.search(line) and not EXPLAINED.search(line) and path.name != "test_hygiene.py"
    ]
    assert not bare, "a `# type: ignore[code]  # reason` is needed:\n" + "\n".join(bare)
