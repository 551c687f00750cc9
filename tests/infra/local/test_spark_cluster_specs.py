"""The optional Spark standalone cluster's specs: pyspark's own daemons, ports and sizes from settings."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from flows.cli import app
from infra.local.services import spark_class, spark_cluster_specs, stack_specs
from infra.settings import Settings


def test_a_master_and_one_worker_per_ui_port_from_settings(tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path,
        spark_master_port=17077,
        spark_master_ui_port=18080,
        spark_worker_ui_ports=[18081, 18082],
        spark_worker_cores=1,
        spark_worker_memory="2g",
    )
    master, *workers = spark_cluster_specs(settings)
    assert spark_class().is_file()
    assert master.name == "spark-master"
    assert list(master.command) == [
        str(spark_class()),
        "org.apache.spark.deploy.master.Master",
        "--host",
        "127.0.0.1",
        "--port",
        "17077",
        "--webui-port",
        "18080",
    ]
    assert master.ports == {"master": 17077, "ui": 18080}
    assert master.url == "spark://127.0.0.1:17077 (UI http://127.0.0.1:18080)"
    assert [w.name for w in workers] == ["spark-worker-1", "spark-worker-2"]
    assert list(workers[1].command[1:]) == [
        "org.apache.spark.deploy.worker.Worker",
        "--host",
        "127.0.0.1",
        "--cores",
        "1",
        "--memory",
        "2g",
        "--webui-port",
        "18082",
        "--work-dir",
        str(tmp_path / "spark" / "spark-worker-2"),
        "spark://127.0.0.1:17077",
    ]
    assert workers[1].ports == {"ui": 18082}
    # Nothing answers on these ports: a worker is healthy only once the master lists it.
    assert workers[0].health() is False
    assert not (tmp_path / "spark").exists()  # building specs (status, down) writes nothing


def test_the_cluster_is_not_part_of_the_default_stack(tmp_path: Path) -> None:
    names = {s.name for s in stack_specs(Settings(state_dir=tmp_path))}
    cluster = {s.name for s in spark_cluster_specs(Settings(state_dir=tmp_path))}
    assert cluster and not names & cluster


def test_up_names_the_cluster_among_the_choices(tmp_path: Path, monkeypatch) -> None:
    from infra.settings import get_settings

    monkeypatch.setenv("LAKEHOUSE_STATE_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["up", "sparks"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert " ".join(result.output.split()) == (
        "error: unknown service(s) sparks; choose from azurite, dfs, eventhubs, app-events-api, alerts, "
        "dashboard, spark-driver, prefect, worker, spark, spark-master, spark-worker-1, spark-worker-2"
    )
