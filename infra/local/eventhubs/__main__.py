"""``python -m infra.local.eventhubs``: the local Event Hubs endpoint, from ``LAKEHOUSE_*`` settings."""

from __future__ import annotations

import asyncio
import logging
import signal

from infra.local.eventhubs.server import serve
from infra.settings import Settings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop)

    asyncio.run(run())


if __name__ == "__main__":
    main()
