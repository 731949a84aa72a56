"""POST /webhooks/whatsapp/ as a raw ASGI handler: read the body, check the signature,
store, 200. Mounted in front of Django in config/asgi.py.

Why not the Django view (webhooks.py, which stays for GET verification and for the test
client): through Django's ASGI stack (middleware, a thread hop per sync view, one
transaction per request) the same work measured 60-500 events/s on these machines;
bench/webhook_ingest.py measures both.

Group commit: concurrent requests hand their events to one writer, which stores
everything waiting in one transaction (one multi-row INSERT, one fsync, one queued task)
and then answers each request. A request still hears 200 only after its row is
committed (ARCHITECTURE invariant 1); under load, batches grow by themselves, so SQLite's
single writer and PostgreSQL's commit latency stop being the limit. Same answers as the
view: bad signature 403 and nothing stored, body over 1 MiB 413, database failure 503.
"""

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connection, transaction

from wachat.whatsapp import credentials, signature
from wachat.whatsapp.models import WebhookEvent
from wachat.whatsapp.payloads import event_type_of, parse_body
from wachat.whatsapp.webhooks import MAX_BODY_BYTES

log = logging.getLogger(__name__)

PATH = "/webhooks/whatsapp/"
MAX_BATCH = 500


def store_events(items):
    """[(body, signature header)] -> their new ids, stored in one transaction; their
    processing is queued after commit as one task. Malformed JSON is kept for review."""
    from wachat.whatsapp.tasks import process_webhook_events

    rows = []
    for body, header in items:
        payload, raw_body = parse_body(body)
        rows.append(
            WebhookEvent(
                event_type=event_type_of(payload),
                payload=payload,
                raw_body=raw_body,
                signature=header,
            )
        )
    try:
        with transaction.atomic():
            WebhookEvent.objects.bulk_create(rows)  # ids come back (PostgreSQL, SQLite 3.35+)
            ids = [row.pk for row in rows]
            transaction.on_commit(lambda: process_webhook_events(ids))
    except DatabaseError:
        # The writer thread keeps its connection between batches (Django's per-request
        # close does not run here): drop it, so the next batch reconnects.
        connection.close()
        raise
    return ids


class Inbox:
    """The single writer for one event loop."""

    def __init__(self):
        self.waiting = asyncio.Queue()
        self.writer = asyncio.get_running_loop().create_task(self._write_forever())
        # One dedicated thread keeps one database connection and writes batches in order.
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhook-inbox")

    async def store(self, items):
        return await asyncio.get_running_loop().run_in_executor(self.thread, store_events, items)

    def close(self):
        """Stop the writer thread and close its database connection."""
        self.writer.cancel()
        self.thread.submit(lambda: connection.close()).result()  # that thread's connection
        self.thread.shutdown()

    async def put(self, body, header):
        done = asyncio.get_running_loop().create_future()
        self.waiting.put_nowait((body, header, done))
        return await done

    async def _write_forever(self):
        while True:
            batch = [await self.waiting.get()]
            while not self.waiting.empty() and len(batch) < MAX_BATCH:
                batch.append(self.waiting.get_nowait())
            try:
                ids = await self.store([(body, header) for body, header, _ in batch])
            except Exception as exc:  # every waiting request answers 503, Meta retries
                for *_, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for (*_, done), event_id in zip(batch, ids, strict=True):
                if not done.done():
                    done.set_result(event_id)


_inboxes = {}


def inbox():
    loop = asyncio.get_running_loop()
    if loop not in _inboxes:
        close()  # a new loop (tests, reload): the old writer went with its loop
        _inboxes[loop] = Inbox()
    return _inboxes[loop]


def close():
    while _inboxes:
        _inboxes.popitem()[1].close()


class WebhookIngest:
    def __init__(self, app):
        self.app = app  # everything else: Django

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return await _respond(send, 413, {"error": "body too large (limit 1 MiB)"})
        body = await _read_body(receive)
        if body is None:
            return await _respond(send, 413, {"error": "body too large (limit 1 MiB)"})
        header = headers.get(b"x-hub-signature-256", b"").decode("latin-1") or None
        try:
            found = credentials.cached() or await sync_to_async(credentials.current)()
        except DatabaseError:
            log.exception("credentials unreadable; answering 503 so Meta retries")
            return await _respond(send, 503, {"error": "temporarily unavailable"})
        if not signature.is_valid(body, header, found.app_secret):
            log.warning("webhook rejected: %s signature", "bad" if header else "missing")
            return await _respond(send, 403, {"error": "invalid signature"})
        try:
            event_id = await inbox().put(body, header)
        except Exception:
            log.exception("webhook not stored; answering 503 so Meta retries")
            return await _respond(send, 503, {"error": "temporarily unavailable"})
        return await _respond(send, 200, {"stored": event_id})


async def _read_body(receive):
    """The whole body, or None past MAX_BODY_BYTES (read no further)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send, status, data):
    body = json.dumps(data).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
