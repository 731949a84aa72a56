"""Publishing events to browsers through the channel layer, after the database commits.

Without Redis the channel layer lives in memory inside the web process, and the Huey
worker runs as threads of that same process (`manage.py serve`). An in-memory layer is
only safe to touch from its own event loop, so `serve` binds that loop here and sends
from any thread are handed to it. With Redis every process talks to Redis directly.
"""

import asyncio
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

_server_loop: asyncio.AbstractEventLoop | None = None


def bind_server_loop(loop):
    global _server_loop
    _server_loop = loop


def send_now(groups, event):
    layer = get_channel_layer()
    try:
        for group in groups:
            if _server_loop is not None:
                future = asyncio.run_coroutine_threadsafe(
                    layer.group_send(group, event), _server_loop
                )
                future.result(timeout=5)
            else:
                async_to_sync(layer.group_send)(group, event)
    except Exception:  # a browser missing one event resumes from its last id; never fail a write
        log.exception("could not publish %s to %s", event.get("event"), groups)


def publish_on_commit(groups, event):
    """Send `event` ({"event": name, ...}) to `groups` once the current transaction commits."""
    payload = {"type": "chat.event", **event}
    transaction.on_commit(lambda: send_now(groups, payload))
