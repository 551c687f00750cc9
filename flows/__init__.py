"""Prefect flows and the ``lakehouse`` CLI: the outermost layer. They wire, they don't compute.

Each flow reads its typed parameters, calls read -> transform -> write tasks and reports (artifacts, events,
alerts). May import ``ingestion``, ``transforms``, ``powerbi`` and the ``infra`` seams; only the CLI
(``flows.cli``) imports ``infra.local`` (it starts the local stack). Nothing imports ``flows``.
"""
