"""Publishing events to browsers through the channel layer, after the database commits.

Without Redis the channel layer lives in memory inside the web process, and the Huey
worker runs as threads of that same process (`manage.py serve`). An in-memory layer is
only safe to touch from its own event loop, so `serve` binds that loop here and sends
from any thread are handed to it. With Redis every process talks to Redis directly; a
process without a server loop (a separate worker) sends from one loop of its own, on a
daemon thread, so every event reuses one connection instead of paying for a new thread,
loop and Redis connection (what async_to_sync outside a loop costs, per call).
"""

import asyncio
import logging
import os
import threading

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

_server_loop: asyncio.AbstractEventLoop | None = None
_own_loop: tuple[int, asyncio.AbstractEventLoop] | None = None  # (pid, loop): not across forks
_own_loop_lock = threading.Lock()


def bind_server_loop(loop):
    global _server_loop
    _server_loop = loop


def publisher_loop():
    """This process's own publishing loop, started on first use."""
    global _own_loop
    with _own_loop_lock:
        if _own_loop is None or _own_loop[0] != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="publisher", daemon=True).start()
            _own_loop = (os.getpid(), loop)
        return _own_loop[1]


def send_now(groups, event):
    send_each([(groups, event)])


def send_each(batch):
    """Send each (groups, event) of `batch` now, in one hop to the publishing loop."""
    if not batch:
        return
    layer = get_channel_layer()
    try:
        loop = _server_loop
        if loop is None and not isinstance(layer, InMemoryChannelLayer):
            loop = publisher_loop()
        if loop is not None:
            future = asyncio.run_coroutine_threadsafe(_send_batch(layer, batch), loop)
            future.result(timeout=5)
        else:
            # In memory without a server loop (tests, a shell): the layer belongs to the
            # caller's loop, which async_to_sync finds.
            async_to_sync(_send_batch)(layer, batch)
    except Exception:  # a browser missing one event resumes from its last id; never fail a write
        log.exception("could not publish %s", [event.get("event") for _, event in batch[:3]])


async def _send_batch(layer, batch):
    for groups, event in batch:
        for group in groups:
            await layer.group_send(group, event)


def publish_on_commit(groups, event):
    """Send `event` ({"event": name, ...}) to `groups` once the current transaction commits."""
    payload = {"type": "chat.event", **event}
    transaction.on_commit(lambda: send_now(groups, payload))
