"""Building and delivering webhooks the way Meta does: JSON in Meta's shape, signed with
the app secret, posted from a background thread with retries.

Delivery runs on its own thread because the emulator lives in the same server it posts
to: a view that posted and waited would hold the worker thread the webhook view needs.
"""

import json
import logging
import queue
import threading
import time

import httpx
from django.conf import settings

from wachat.whatsapp.signature import sign

log = logging.getLogger(__name__)

_outbox: queue.Queue = queue.Queue()
_started = threading.Lock()
_thread = None


def _envelope(value):
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": settings.WHATSAPP_BUSINESS_NUMBER,
                                "phone_number_id": settings.WHATSAPP_PHONE_NUMBER_ID,
                            },
                            **value,
                        },
                    }
                ],
            }
        ],
    }


def message_payload(message, *, profile_name, media=None):
    raw = {
        "from": message.phone,
        "id": message.wamid,
        "timestamp": str(int(message.created_at.timestamp())),
        "type": message.kind,
    }
    if message.kind == "reaction":
        raw["reaction"] = {"message_id": message.context_wamid, "emoji": message.body}
    elif message.kind in ("image", "document"):
        # https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples#media-messages
        body = {"id": media.media_id, "mime_type": media.mime_type, "sha256": media.sha256}
        if message.body:
            body["caption"] = message.body
        if message.kind == "document":
            body["filename"] = media.filename or "document"
        raw[message.kind] = body
    else:
        raw["text"] = {"body": message.body}
    if message.context_wamid and message.kind != "reaction":
        raw["context"] = {"from": settings.WHATSAPP_BUSINESS_NUMBER, "id": message.context_wamid}
    return _envelope(
        {
            "contacts": [{"profile": {"name": profile_name}, "wa_id": message.phone}],
            "messages": [raw],
        }
    )


def status_payload(message, status):
    return _envelope(
        {
            "statuses": [
                {
                    "id": message.wamid,
                    "status": status,
                    "timestamp": str(int(time.time())),
                    "recipient_id": message.phone,
                }
            ]
        }
    )


def failed_status_payload(wamid, phone, code):
    """A `failed` status in Meta's shape (errors[] with code, title, message, error_data)."""
    from wachat.whatsapp.emulator import faults

    title = faults.TITLES.get(code, faults.MESSAGES.get(code, "Error"))
    error = {"code": code, "title": title, "message": title}
    if code in faults.DETAILS:
        error["error_data"] = {"details": faults.DETAILS[code]}
    error["href"] = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
    status = {
        "id": wamid,
        "status": "failed",
        "timestamp": str(int(time.time())),
        "recipient_id": phone,
        "errors": [error],
    }
    return _envelope({"statuses": [status]})


def post_webhook(payload):
    """Deliver `payload` to the app, unless a webhook fault knob says otherwise."""
    from wachat.whatsapp.emulator import faults
    from wachat.whatsapp.emulator.models import Fault

    fault = faults.take(Fault.Target.WEBHOOKS, consume=False)
    if fault is None:
        _enqueue(payload)
    elif fault.action == Fault.Action.REORDER:
        held = faults.swap_held(fault, payload)
        if held is not None:  # the one kept before goes after this one
            _enqueue(payload)
            _enqueue(held)
    elif faults.take(Fault.Target.WEBHOOKS, fault.action) is None:
        _enqueue(payload)  # another process spent the knob's last use
    elif fault.action == Fault.Action.DUPLICATE:
        _enqueue(payload)
        _enqueue(payload)
    elif fault.action == Fault.Action.DROP:
        log.info("emulator dropped a webhook (fault knob)")
    else:
        _enqueue(payload)


def _enqueue(payload):
    """Queue `payload` for delivery to the app's webhook endpoint (tests replace this)."""
    global _thread
    with _started:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(
                target=_deliver_forever, name="emulator-webhooks", daemon=True
            )
            _thread.start()
    _outbox.put(payload)


def _deliver_forever():
    with httpx.Client(timeout=10) as http:
        while True:
            _deliver(http, _outbox.get())


def _deliver(http, payload, attempts=6):
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": sign(body, settings.WHATSAPP_APP_SECRET),
    }
    for attempt in range(attempts):
        try:
            response = http.post(settings.EMULATOR_WEBHOOK_URL, content=body, headers=headers)
            if response.status_code < 300:
                return
            log.warning("emulator webhook answered %s", response.status_code)
        except httpx.HTTPError as exc:
            log.warning("emulator webhook failed: %s", exc)
        time.sleep(min(0.5 * 2**attempt, 8))  # Meta, too, retries with backoff
    log.error("emulator gave up delivering a webhook after %s attempts", attempts)
