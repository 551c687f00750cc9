"""A flow run from the CLI prints its steps, not Prefect's INFO lines; those go to a log file."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from prefect import flow, task
from rich.console import Console

from flows.console import quiet_prefect_console


@task(task_run_name="add-one")
def add_one(value: int) -> int:
    return value + 1


@task(task_run_name="refuse", retries=0)
def refuse() -> None:
    raise ValueError("no")


@flow(name="tiny-steps")
def tiny(fail: bool = False) -> int:
    value = add_one(1)
    if fail:
        refuse()
    return value


def test_steps_are_printed_and_prefect_info_goes_to_the_log_file(
    prefect_harness: object, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    out = io.StringIO()
    undo = quiet_prefect_console(Console(file=out, width=120, color_system=None), tmp_path / "flows.log")
    try:
        assert tiny() == 2
        with pytest.raises(ValueError, match="no"):
            tiny(fail=True)
    finally:
        undo()
    lines = [line.rstrip() for line in out.getvalue().splitlines()]
    steps = [" ".join(line.split()[:3]) for line in lines]
    assert steps == [
        "▶ tiny-steps",
        "✓ add-one Completed",
        "✓ tiny-steps Completed",
        "▶ tiny-steps",
        "✓ add-one Completed",
        "✗ refuse Failed",
        "✗ tiny-steps Failed",
    ]
    terminal = capfd.readouterr()
    assert "Finished in state" not in terminal.out + terminal.err
    logged = (tmp_path / "flows.log").read_text()
    assert logged.count("Finished in state Completed()") == 3
    assert "Beginning flow run" in logged
