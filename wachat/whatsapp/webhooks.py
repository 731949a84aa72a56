"""/webhooks/whatsapp/: verify, store, answer 200. Processing happens in the worker.

Invariant 1: an event is in webhook_events before Meta hears 200; a bad signature is
rejected and nothing is stored; a database failure answers 5xx so Meta delivers again.
"""

import hmac
import logging

from django.db import DatabaseError, transaction
from django.http import HttpResponse, HttpResponseForbidden, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from wachat.whatsapp import credentials, signature
from wachat.whatsapp.models import WebhookEvent
from wachat.whatsapp.payloads import event_type_of, parse_body
from wachat.whatsapp.tasks import process_webhook_event

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024


@csrf_exempt
@require_http_methods(["GET", "POST"])
def whatsapp_webhook(request):
    if request.method == "GET":
        return _verify_subscription(request)
    declared = request.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return JsonResponse({"error": "body too large (limit 1 MiB)"}, status=413)
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        return JsonResponse({"error": "body too large (limit 1 MiB)"}, status=413)
    header = request.headers.get("X-Hub-Signature-256")
    try:
        secret = credentials.current().app_secret
    except DatabaseError:
        log.exception("credentials unreadable; answering 503 so Meta retries")
        return HttpResponse("temporarily unavailable", status=503)
    if not signature.is_valid(body, header, secret):
        log.warning("webhook rejected: %s signature", "bad" if header else "missing")
        return HttpResponseForbidden("invalid signature")
    try:
        event = store_event(body, header)
    except DatabaseError:
        log.exception("webhook not stored; answering 503 so Meta retries")
        return HttpResponse("temporarily unavailable", status=503)
    return JsonResponse({"stored": event.pk})


def store_event(body, header):
    """One insert, then processing is queued after commit. Malformed JSON is kept for review."""
    payload, raw_body = parse_body(body)
    with transaction.atomic():
        event = WebhookEvent.objects.create(
            event_type=event_type_of(payload),
            payload=payload,
            raw_body=raw_body,
            signature=header,
        )
        transaction.on_commit(lambda: process_webhook_event(event.pk))
    return event


def _verify_subscription(request):
    """Meta's subscription handshake: echo hub.challenge when the verify token matches."""
    mode = request.GET.get("hub.mode")
    token = request.GET.get("hub.verify_token", "")
    expected = credentials.current().verify_token
    if mode == "subscribe" and expected and hmac.compare_digest(token, expected):
        return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")
    return HttpResponseForbidden("verification failed")
