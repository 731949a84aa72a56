"""`manage.py serve`: the web server (HTTP + WebSocket), and the worker when there is no Redis.

Without REDIS_URL the channel layer is in memory, so the Huey worker runs as threads of
this process and publishes through its event loop (see wachat/realtime/publish.py).
With REDIS_URL, run workers separately: `manage.py run_worker`.
"""

import asyncio
import logging

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import autodiscover_modules
from huey.contrib.djhuey import HUEY

from wachat.realtime import publish
from wachat.widget import api as widget_api

log = logging.getLogger(__name__)


class Server(uvicorn.Server):
    async def shutdown(self, sockets=None):
        # Long-polls answer now rather than be cancelled when the grace period ends.
        widget_api.server_stopping().set()
        await super().shutdown(sockets=sockets)


class Command(BaseCommand):
    help = "Serve WaChat (ASGI: HTTP + WebSocket); runs the worker in-process without Redis."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.HOST)
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--workers", type=int, default=4, help="worker threads (no Redis)")
        parser.add_argument("--no-worker", action="store_true", help="web only")

    def handle(self, *args, host, port, workers, no_worker, **options):
        embedded = not settings.REDIS_URL and not no_worker
        autodiscover_modules("tasks")  # register every app's tasks with Huey
        config = uvicorn.Config(
            "config.asgi:application",
            host=host,
            port=port,
            ws="wsproto",
            lifespan="off",
            log_level="warning",
            timeout_graceful_shutdown=3,
        )
        server = Server(config)
        consumer = None
        if embedded:
            consumer = HUEY.create_consumer(
                workers=workers,
                worker_type="thread",
                initial_delay=0.05,
                max_delay=0.5,
                backoff=1.3,
                shutdown_timeout=5,
            )

        async def main():
            if consumer is not None:
                publish.bind_server_loop(asyncio.get_running_loop())
                consumer.start()
                log.info("worker: %s threads in this process", workers)
            await server.serve()

        try:
            asyncio.run(main())
        finally:
            if consumer is not None:
                consumer.stop(graceful=True)
                publish.bind_server_loop(None)
