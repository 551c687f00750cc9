"""prefect.yaml loads: every deployment names a flow, its parameters and one schedule.

tests/flows/test_schedules.py deploys it to a real server and waits for the scheduler and the worker.
"""

from __future__ import annotations

from datetime import timedelta

from prefect import Flow

from flows.deployments import deployment_specs

EXPECTED_SCHEDULES = {
    "reviews-send": timedelta(minutes=5),
    "reviews-land": timedelta(minutes=5),
    "app-events-pull": "0 * * * *",
    "batch-generate": "0 2 * * *",
    "batch-copy": "30 2 * * *",
    "medallion": "15 * * * *",
    "lakehouse-daily": "0 4 * * *",
}


def test_every_deployment_loads_its_flow_and_schedule() -> None:
    specs = {spec.name: spec for spec in deployment_specs()}
    assert {name: spec.cron or spec.interval for name, spec in specs.items()} == EXPECTED_SCHEDULES
    for spec in specs.values():
        flow = spec.load_flow()
        assert isinstance(flow, Flow), spec.entrypoint
        unknown = set(spec.parameters) - set(flow.parameters.properties)
        assert not unknown, f"{spec.name}: parameters {unknown} are not parameters of {flow.name}"
        deployment = flow.to_deployment(name=spec.name, cron=spec.cron, interval=spec.interval)
        assert len(deployment.schedules) == 1
    assert specs["medallion"].concurrency_limit == specs["lakehouse-daily"].concurrency_limit == 1
