"""What a flow run started from the CLI shows in the terminal: its steps, not the libraries' logs.

Prefect's console handler is raised to WARNING (its INFO lines still reach the UI through the API handler
and a log file), and a small handler prints one line per finished task or subflow, with its state and how
long it took. Spark's JVM output goes to its own file (``infra.spark``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

PREFECT_RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


class StepReporter(logging.Handler):
    """Prints ``✓ silver-orders  Completed  3.2 s`` for every task or subflow run that finishes."""

    def __init__(self, console: Console) -> None:
        super().__init__(level=logging.INFO)
        self.console = console
        self.started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            task_run = getattr(record, "task_run_name", None)
            run_id = str(getattr(record, "task_run_id", None) or getattr(record, "flow_run_id", ""))
            label = task_run or getattr(record, "flow_name", None) or "flow"
            self.started.setdefault(run_id, time.monotonic())
            if message.startswith("Beginning subflow run") or message.startswith("Beginning flow run"):
                self.console.print(f"[bold]▶ {label}[/]")
            elif message.startswith("Finished in state"):
                state = message.removeprefix("Finished in state ").split("(")[0]
                took = time.monotonic() - self.started.pop(run_id, time.monotonic())
                mark = "[green]✓[/]" if state == "Completed" else "[red]✗[/]"
                indent = "  " if task_run else ""
                self.console.print(f"{indent}{mark} {label:<28} [dim]{state:<18} {took:6.1f} s[/]")
        except Exception:  # a reporter must never break the run it reports
            self.handleError(record)


def quiet_prefect_console(console: Console, log_file: Path) -> Callable[[], None]:
    """Prefect's INFO logs to ``log_file``, step lines to ``console``; returns what undoes it.

    Call it after importing prefect and before the flow runs.
    """
    from prefect.logging.configuration import setup_logging

    setup_logging()
    streams = [
        handler
        for handler in logging.getLogger("prefect").handlers + logging.getLogger().handlers
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)
    ]
    levels = [handler.level for handler in streams]
    for handler in streams:
        handler.setLevel(logging.WARNING)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    to_file = logging.FileHandler(log_file, encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    to_file.setLevel(logging.INFO)
    reporter = StepReporter(console)
    loggers = [logging.getLogger(name) for name in PREFECT_RUN_LOGGERS]
    for logger in loggers:
        logger.addHandler(reporter)
        logger.addHandler(to_file)
    for name in ("py4j", "azure", "urllib3", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)

    def undo() -> None:
        for logger in loggers:
            logger.removeHandler(reporter)
            logger.removeHandler(to_file)
        to_file.close()
        for handler, level in zip(streams, levels, strict=True):
            handler.setLevel(level)

    return undo
