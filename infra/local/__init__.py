"""Everything ``lakehouse up`` runs: the launcher, the service specs (``services``), the DFS endpoint over
Azurite, the Event Hubs endpoint with Capture, the simulated app_events API, the alerts receiver, the Event
Hubs topology (``Config.json``) and the Docker assets.

They run as processes; pipeline code never imports this package (only the CLI and tests do). It imports the
``infra`` seams, and the simulated API uses the generator (``ingestion.synthetic``) and the data contract.
"""
