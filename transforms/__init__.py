"""Pure PySpark: the data contract, the catalog, schemas, silver/gold transforms, expectations, table checks.

Functions take DataFrames and explicit values and return DataFrames: no reading, writing, settings or
session creation (``tests/transforms/test_purity.py``). Imports nothing of ours; every layer may import it.
"""
