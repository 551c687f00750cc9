"""Runs the medallion flow once in a process of its own and prints the gold row counts as JSON.

A process holds one SparkSession, so a test whose session is ``local[2]`` runs the flow on another master
(``LAKEHOUSE_SPARK_MASTER``) through this: ``python -m tests.support.run_medallion <as_of ISO instant>``.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime

from flows.medallion import medallion

if __name__ == "__main__":
    result = medallion(as_of=datetime.fromisoformat(sys.argv[1]), run_maintenance=False)
    print(json.dumps(result.gold_rows))
