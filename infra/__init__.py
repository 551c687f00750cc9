"""How the lakehouse meets its environment: the seams, the same for the local stack and for Azure.

* ``settings`` — every endpoint, key, port and profile (``LAKEHOUSE_*``); ``zones`` — every lake path;
* ``storage`` — the lake client (DataLake SDK) and Delta IO (Spark); ``spark`` — the SparkSession factory;
* ``messaging`` — the Event Hubs clients; ``identity`` — keys locally, ``DefaultAzureCredential`` on Azure;
* ``local/`` — everything ``lakehouse up`` runs (launcher, service specs, DFS and Event Hubs endpoints, the
  simulated app_events API, the alerts receiver, ``Config.json``, Docker assets); started as processes,
  imported only by the CLI and tests;
* ``azure/`` — the Azure deployment (Bicep) of the ``azure`` profile.

The seams import only each other; every other layer may import them (not ``infra.local``).
"""
