"""Alerts: a notification block and two Prefect automations, created by ``lakehouse deploy``.

* ``lakehouse-run-failed``: a deployment's flow run ends Failed, Crashed or TimedOut. Subflows are covered by
  their parent's run (they have no deployment), so one failing scheduled run is one message.
* ``lakehouse-dq-failed``: the medallion emits ``lakehouse.dq.failed`` when an error-severity table check
  fails, naming the run and every failing check. That run ends in the state ``DataQualityFailed`` (type
  FAILED), which the first automation does not match, so a data-quality failure is one message too.
* ``lakehouse-revenue-anomaly``: the medallion emits ``lakehouse.revenue.anomaly`` when
  ``mart_revenue_anomalies`` flags a day (a warning-severity check): the run carries on and succeeds, the
  message names the days.

All three send to the ``lakehouse-alerts`` Custom Webhook block, whose URL is ``Settings.alert_target``: the
stack's own receiver locally, a Slack/Teams/any webhook on Azure (``LAKEHOUSE_ALERT_WEBHOOK_URL``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from prefect.automations import Automation, EventTrigger, Posture, SendNotification
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.client.orchestration import get_client

from infra.settings import Settings

ALERTS_BLOCK = "lakehouse-alerts"
RUN_FAILED = "lakehouse-run-failed"
DQ_FAILED = "lakehouse-dq-failed"
DQ_EVENT = "lakehouse.dq.failed"
DQ_FAILED_STATE = "DataQualityFailed"
REVENUE_ANOMALY = "lakehouse-revenue-anomaly"
REVENUE_ANOMALY_EVENT = "lakehouse.revenue.anomaly"

RUN_FAILED_BODY = (
    "Flow run '{{ flow_run.name }}' of flow '{{ flow.name }}' (deployment '{{ deployment.name }}') ended "
    "{{ flow_run.state.name }}: {{ flow_run.state.message }}\n{{ flow_run|ui_url }}"
)
DQ_FAILED_BODY = (
    "Data quality failed in {{ event.resource['prefect.resource.name'] }} "
    "(flow run {{ event.payload.flow_run_id }}): {{ event.payload.summary }}"
)

REVENUE_ANOMALY_BODY = (
    "Revenue anomaly in {{ event.resource['prefect.resource.name'] }} "
    "(flow run {{ event.payload.flow_run_id }}): {{ event.payload.summary }}"
)


def save_alerts_block(settings: Settings) -> CustomWebhookNotificationBlock:
    """The webhook every alert is posted to; Slack and Teams read ``text``, the local receiver keeps all."""
    block = CustomWebhookNotificationBlock(
        name="lakehouse",
        url=settings.alert_target,
        json_data={"subject": "{{subject}}", "text": "{{body}}", "source": "{{name}}"},
        headers=None,
        cookies=None,
        timeout=10,
    )
    block.save(ALERTS_BLOCK, overwrite=True)
    return block


def _automation(
    block_id: UUID, name: str, description: str, trigger: EventTrigger, subject: str, body: str
) -> Automation:
    """An automation that sends one notification to the alerts block each time ``trigger`` fires."""
    action = SendNotification(block_document_id=block_id, subject=subject, body=body)
    return Automation(name=name, description=description, trigger=trigger, actions=[action])


def _on_each(expect: set[str], match: dict[str, str | list[str]], **related: str) -> EventTrigger:
    """Fire once per matching event (reactive, threshold 1); ``related`` names a related resource's labels."""
    options: dict[str, Any] = {"posture": Posture.Reactive, "threshold": 1, "within": timedelta(0)}
    if related:
        options["match_related"] = {f"prefect.resource.{k}": v for k, v in related.items()}
    return EventTrigger(expect=expect, match=match, **options)


def alert_automations(block_id: UUID) -> list[Automation]:
    """The three automations, as Prefect objects (not yet created)."""
    run_failed = {"prefect.flow-run.Failed", "prefect.flow-run.Crashed", "prefect.flow-run.TimedOut"}
    return [
        _automation(
            block_id,
            RUN_FAILED,
            "A deployment's flow run failed, crashed or timed out.",
            _on_each(run_failed, {"prefect.resource.id": "prefect.flow-run.*"}, role="deployment"),
            "lakehouse: flow run {{ flow_run.name }} {{ flow_run.state.name }}",
            RUN_FAILED_BODY,
        ),
        _automation(
            block_id,
            DQ_FAILED,
            "An error-severity data-quality check failed in the medallion.",
            _on_each({DQ_EVENT}, {"prefect.resource.id": "lakehouse.dq.*"}),
            "lakehouse: data quality failed ({{ event.payload.failed_checks }} checks)",
            DQ_FAILED_BODY,
        ),
        _automation(
            block_id,
            REVENUE_ANOMALY,
            "The medallion flagged a day's revenue outside its expected band (a warning).",
            _on_each({REVENUE_ANOMALY_EVENT}, {"prefect.resource.id": "lakehouse.revenue.*"}),
            "lakehouse: revenue anomaly ({{ event.payload.anomalous_days }} days)",
            REVENUE_ANOMALY_BODY,
        ),
    ]


def configure_alerts(settings: Settings) -> list[str]:
    """Create (or replace) the block and every automation; returns the automation names."""
    block = save_alerts_block(settings)
    block_id = block._block_document_id
    if block_id is None:  # save() sets it
        raise RuntimeError(f"the {ALERTS_BLOCK} block was not saved")
    names = []
    with get_client(sync_client=True) as client:
        for automation in alert_automations(block_id):
            for existing in client.read_automations_by_name(name=automation.name):
                client.delete_automation(existing.id)
            automation.create()
            names.append(automation.name)
    return names
