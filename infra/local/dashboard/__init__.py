"""The local dashboard (Streamlit + Plotly) over gold, data quality and the stream; `lakehouse up` runs it.

``app.py`` is the script Streamlit runs (service ``dashboard``, ``infra/local/services.py``), ``pages.py``
holds one function per page, ``data.py`` reads the lake with delta-rs and does the filters and sums the
charts need. Imported only by itself and tests; it imports the ``infra`` seams and the catalog
(``transforms.catalog``, ``transforms.contract``) for table names.
"""
