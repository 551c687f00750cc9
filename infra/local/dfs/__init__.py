"""The local ADLS Gen2 (DFS REST) endpoint: Spark's ABFS driver, the DataLake SDKs and Blob clients (adlfs,
delta-rs, pyarrow) talk to it; it stores everything in Azurite through the Blob API in the layout real ADLS
Gen2 shows Blob clients, and answers each request in the API it belongs to (see ``DfsApp._api_of``).

Modules: ``app`` (ASGI app, routing, Blob passthrough), ``operations`` (create/append/flush/rename/delete),
``listing`` (list paths and filesystems), ``namespace`` (directories, locks, ACLs), ``blobstore`` (the Azurite
client), ``auth`` (Shared Key and SAS), ``paths`` (names), ``errors``, ``asgi``. Run it with
``python -m infra.local.dfs``; settings come from the ``LAKEHOUSE_*`` environment.
"""
