"""`make bench` / `python -m bench`: run every benchmark script in turn and print its figures.

Each script starts the services it needs on free ports and measures both sides of a ratio in the same run
(shared machines are noisy). Pass script names to run a subset: `python -m bench generator medallion`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ("generator", "spark", "dfs", "eventhubs", "ingestion", "medallion", "pipeline")


def main(names: list[str]) -> int:
    failed = []
    for name in names or ORDER:
        script = HERE / f"bench_{name}.py"
        if not script.exists():
            print(f"no benchmark named {name!r}; choose from {', '.join(ORDER)}", file=sys.stderr)
            return 2
        print(f"\n=== bench_{name} ({time.strftime('%H:%M:%S')}) ===", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
