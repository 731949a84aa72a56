"""The built-in WhatsApp emulator: Graph API endpoints for the app, and a "phone" page
that plays WhatsApp users (agents answering by relay, or customers writing in).

Development and tests only: mounted at /emulator/ when WHATSAPP_EMULATOR is on.
"""

import json
import secrets

from django.conf import settings
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from wachat.conversations.models import ChatAgent
from wachat.whatsapp.emulator import meta
from wachat.whatsapp.emulator.models import PhoneMessage

MAX_TEXT = 4096


def graph_error(status, code, message, error_type="OAuthException"):
    """An error in the Graph API's shape."""
    return JsonResponse(
        {
            "error": {
                "message": message,
                "type": error_type,
                "code": code,
                "fbtrace_id": "EMU" + secrets.token_hex(6),
            }
        },
        status=status,
    )


@csrf_exempt
@require_POST
def graph_messages(request, version, phone_number_id):
    """POST /{version}/{phone-number-id}/messages"""
    if request.headers.get("Authorization") != f"Bearer {settings.WHATSAPP_ACCESS_TOKEN}":
        return graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
    if phone_number_id != settings.WHATSAPP_PHONE_NUMBER_ID:
        return graph_error(
            400, 100, f"Unsupported post request. Object with ID '{phone_number_id}' does not exist"
        )
    try:
        data = json.loads(request.body)
    except ValueError:
        return graph_error(400, 100, "Invalid parameter: body is not JSON")
    to = str(data.get("to", "")).lstrip("+")
    if data.get("messaging_product") != "whatsapp" or not to.isdigit():
        return graph_error(400, 100, "Invalid parameter: messaging_product and to are required")
    if data.get("type", "text") != "text":
        return graph_error(400, 131051, "Unsupported message type", "OAuthException")
    body = (data.get("text") or {}).get("body", "")
    if not body or len(body) > MAX_TEXT:
        return graph_error(400, 100, "Invalid parameter: text.body must be 1 to 4096 characters")
    context = (data.get("context") or {}).get("message_id")
    with transaction.atomic():
        message = PhoneMessage.objects.create(
            phone=to, direction=PhoneMessage.Direction.TO_PHONE, body=body, context_wamid=context
        )
        transaction.on_commit(lambda: meta.post_webhook(meta.status_payload(message, "sent")))
    return JsonResponse(
        {
            "messaging_product": "whatsapp",
            "contacts": [{"input": data["to"], "wa_id": to}],
            "messages": [{"id": message.wamid}],
        }
    )


@require_GET
def phone_page(request):
    return render(
        request,
        "emulator/phone.html",
        {"business_number": settings.WHATSAPP_BUSINESS_NUMBER},
    )


def _known_phones():
    """Agents' numbers first (relay), then every other number seen."""
    phones = {
        agent.whatsapp_phone_number: f"{agent.name} (agent)"
        for agent in ChatAgent.objects.select_related("user").exclude(whatsapp_phone_number=None)
    }
    for phone in PhoneMessage.objects.values_list("phone", flat=True).distinct():
        phones.setdefault(phone, f"+{phone}")
    return [{"phone": phone, "label": label} for phone, label in phones.items()]


@require_GET
def phone_thread(request):
    """The thread of one phone. Looking at it delivers the business's messages, and
    reading them (`seen=1`: the page is visible) marks them read; each change goes back
    to the app as a status webhook, as WhatsApp does."""
    phone = request.GET.get("phone", "")
    seen = request.GET.get("seen") == "1"
    target = "read" if seen else "delivered"
    unread = PhoneMessage.objects.filter(
        phone=phone, direction=PhoneMessage.Direction.TO_PHONE, status__in=["sent", "delivered"]
    ).exclude(status=target)
    for message in unread:
        for status in ["delivered", "read"][: 2 if seen else 1]:
            if status != message.status:
                meta.post_webhook(meta.status_payload(message, status))
        message.status = target
        message.save(update_fields=["status"])
    messages = PhoneMessage.objects.filter(phone=phone).order_by("pk")
    return JsonResponse({"messages": [m.as_json() for m in messages], "phones": _known_phones()})


@csrf_exempt
@require_POST
def phone_send(request):
    """The phone user sends a text (optionally replying to a message) or a reaction."""
    try:
        data = json.loads(request.body)
    except ValueError:
        return JsonResponse({"error": "body is not JSON"}, status=400)
    phone = str(data.get("phone", "")).lstrip("+")
    text = str(data.get("text", "")).strip()
    kind = "reaction" if data.get("reaction") else "text"
    if not phone.isdigit() or not 6 <= len(phone) <= 15:
        return JsonResponse({"error": "phone must be 6 to 15 digits"}, status=400)
    if kind == "text" and not 0 < len(text) <= MAX_TEXT:
        return JsonResponse({"error": "text must be 1 to 4096 characters"}, status=400)
    message = PhoneMessage.objects.create(
        phone=phone,
        direction=PhoneMessage.Direction.FROM_PHONE,
        kind=kind,
        body=data["reaction"] if kind == "reaction" else text,
        context_wamid=data.get("reply_to") or None,
    )
    profile_name = str(data.get("name") or "") or _profile_name(phone)
    meta.post_webhook(meta.message_payload(message, profile_name=profile_name))
    return JsonResponse(message.as_json(), status=201)


def _profile_name(phone):
    agent = ChatAgent.objects.select_related("user").filter(whatsapp_phone_number=phone).first()
    return agent.name if agent else f"Customer {phone[-4:]}"
