"""Storage seam: the lake client (DataLake SDK) and Delta IO (Spark), the same calls locally and on Azure.

``lake.Lake`` reads and writes files of a zone (landing, bronze, ...) through the DataLake SDK;
``delta_io`` reads raw files with their schemas and reads and writes Delta tables. Every Delta read of the
pipeline goes through ``delta_io``; ``delta_rs`` gives delta-rs the storage options to open the same tables
without Spark (the dashboard, tests). Imported by ``ingestion``, ``flows``, ``powerbi`` and notebooks; it
imports only ``infra.settings`` and ``infra.zones``.
"""
