"""The project's local Event Hubs endpoint: AMQP 1.0 for the unmodified azure-eventhub SDK, plus Capture.

* :mod:`~infra.eventhubs.codec` — AMQP types (strict encoder, lenient decoder, messages as bytes)
* :mod:`~infra.eventhubs.amqp` — connections, sessions, links, SASL, CBS and $management over asyncio
* :mod:`~infra.eventhubs.broker` — hubs, partition routing, SAS tokens, consumer positions
* :mod:`~infra.eventhubs.partition_key` — the service's partition-key hash (Jenkins lookup3)
* :mod:`~infra.eventhubs.storage` — durable partition logs (length-prefixed, CRC-checked records)
* :mod:`~infra.eventhubs.config` — Microsoft's emulator ``Config.json`` format
* :mod:`~infra.eventhubs.capture` — Event Hubs Capture to Avro in the landing zone (also standalone)
* :mod:`~infra.eventhubs.server` — the process ``python -m infra.eventhubs`` runs (AMQP + ``/health``)
"""
