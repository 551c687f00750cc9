"""Power BI tooling beside the Power BI project it serves (``Lakehouse.pbip``, its semantic model and report).

* :mod:`powerbi.tmdl` — reads the TMDL model and holds its tables, columns and relationships against the
  gold Delta schemas (the drift guard), and writes the model's tables from those schemas;
* :mod:`powerbi.report` — reads the PBIR report and holds every visual's fields against the model, and its
  layout against the page;
* :mod:`powerbi.gold_measures` — the model's core and data-quality measures computed from gold, for checks;
* :mod:`powerbi.gold_export` — a local copy of the gold snapshot (and ``_ops/dq_results``) for Power BI's
  ``Folder.Contents`` variant.

Why a package here and not under ``infra/``: it is neither a seam nor a local service; it belongs with the
PBIP files it reads, so a Power BI developer finds both in one folder. It imports the storage seam and
``transforms`` (gold schemas, catalog); ``lakehouse powerbi ...`` runs it. Nothing imports it but the CLI
and tests.
"""
