"""What a flow run started from the CLI shows in the terminal: its steps, not the libraries' logs.

Prefect's console handler is raised to WARNING (its INFO lines still reach the UI through the API handler
and a log file), and a small handler prints one line per finished task or subflow, with its state and how
long it took. Spark's JVM output goes to its own file (``infra.spark``).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

PREFECT_RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


class StepReporter(logging.Handler):
    """Prints ``✓ silver-orders  Completed  3.2 s`` for every task that finishes, ``▶``/``✓`` for flows."""

    def __init__(self, console: Console) -> None:
        super().__init__(level=logging.INFO)
        self.console = console
        self.mark = time.monotonic()  # the end of the previous step: the flows run their steps in order
        self.quiet_tasks = 0  # tasks with generated names since the last line (counted, not listed)

    @staticmethod
    def _label(record: logging.LogRecord) -> tuple[str, bool, bool]:
        """(label, is a task, has a name of its own): ``silver-orders`` is named, ``pull_page-3f1`` is not."""
        task_run = getattr(record, "task_run_name", None)
        if task_run:
            task = getattr(record, "task_name", None) or ""
            generated = bool(task) and re.fullmatch(re.escape(task) + r"-[0-9a-f]{3}", task_run) is not None
            return (task if generated else task_run), True, not generated
        return getattr(record, "flow_name", None) or "flow", False, True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            label, is_task, named = self._label(record)
            now = time.monotonic()
            if message.startswith("Beginning subflow run") or message.startswith("Beginning flow run"):
                self.console.print(f"[bold]▶ {label}[/]")
                self.mark = now
            elif message.startswith("Finished in state"):
                state = message.removeprefix("Finished in state ").split("(")[0]
                ok = state == "Completed"
                if is_task and not named and ok:
                    self.quiet_tasks += 1
                    return
                mark = "[green]✓[/]" if ok else "[red]✗[/]"
                took = f"{now - self.mark:6.1f} s" if is_task else ""
                if not is_task and self.quiet_tasks:
                    took, self.quiet_tasks = f"({self.quiet_tasks} tasks)", 0
                indent = "  " if is_task else ""
                self.console.print(f"{indent}{mark} {label:<28} [dim]{state:<18} {took}[/]")
                self.mark = now
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
