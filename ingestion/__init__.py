"""The sources: the synthetic generator, the Event Hubs producer, the app_events client, landing -> bronze.

Plain Python (no Spark). May import the ``infra`` seams (settings, zones, storage, messaging) and the data
contract (``transforms.contract``); imported by ``flows`` (and the simulated API in ``infra.local`` uses the
generator).
"""
