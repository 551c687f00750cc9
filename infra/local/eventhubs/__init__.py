"""The project's local Event Hubs endpoint: AMQP 1.0 for the unmodified azure-eventhub SDK, plus Capture.

* :mod:`~infra.local.eventhubs.codec` — AMQP types (strict encoder, lenient decoder, messages as bytes)
* :mod:`~infra.local.eventhubs.amqp` — connections, sessions, links, SASL, CBS and $management over asyncio
* :mod:`~infra.local.eventhubs.broker` — hubs, partition routing, SAS tokens, consumer positions
* :mod:`~infra.local.eventhubs.partition_key` — the service's partition-key hash (Jenkins lookup3)
* :mod:`~infra.local.eventhubs.storage` — durable partition logs (length-prefixed, CRC-checked records)
* :mod:`~infra.local.eventhubs.config` — Microsoft's emulator ``Config.json`` format
* :mod:`~infra.local.eventhubs.capture` — Event Hubs Capture to Avro in the landing zone (also standalone)
* :mod:`~infra.local.eventhubs.server` — what ``python -m infra.local.eventhubs`` runs (AMQP, ``/health``)
"""
