"""The built-in WhatsApp emulator: Graph API endpoints for the app, and a "phone" page
that plays WhatsApp users (agents answering by relay, or customers writing in).

Development and tests only: mounted at /emulator/ when WHATSAPP_EMULATOR is on.
"""

import base64
import binascii
import functools
import json
import secrets
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from wachat.conversations.models import ChatAgent
from wachat.whatsapp.emulator import faults, meta, window
from wachat.whatsapp.emulator.models import Fault, Media, PhoneMessage, new_wamid
from wachat.whatsapp.errors import WINDOW_CLOSED

MAX_TEXT = 4096


# Templates the emulated business account has approved: name -> (language, body with
# {{n}} placeholders). https://developers.facebook.com/docs/whatsapp/message-templates
TEMPLATES = {
    "hello_world": (
        "en_US",
        "Hello World\nWelcome and congratulations!! This message demonstrates your ability "
        "to send a WhatsApp message notification from the Cloud API, hosted by Meta.",
    ),
    "conversation_waiting": (
        "en_US",
        "Hi {{1}}, you have a message waiting. Reply to this message to continue.",
    ),
}
UPLOAD_LIMITS = {  # bytes, by the media type's family
    "image": 5 * 1024 * 1024,
    "application": 100 * 1024 * 1024,
    "text": 100 * 1024 * 1024,
}
UPLOAD_TYPES = {"image/jpeg", "image/png", "application/pdf", "text/plain"} | {
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
BUSINESS_PROFILE = {
    "about": "Answering on WhatsApp and on our website.",
    "address": "1 Example Street, Springfield",
    "description": "WaChat demo business (emulated).",
    "email": "hello@example.com",
    "messaging_product": "whatsapp",
    "profile_picture_url": "",
    "websites": ["https://example.com/"],
    "vertical": "OTHER",
}


def graph_error(status, code, message, error_type="OAuthException", *, details=None, headers=None):
    """An error in the Graph API's shape."""
    error = {
        "message": message,
        "type": error_type,
        "code": code,
        "fbtrace_id": "EMU" + secrets.token_hex(6),
    }
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    response = JsonResponse({"error": error}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _authorized(request):
    return request.headers.get("Authorization") == f"Bearer {settings.WHATSAPP_ACCESS_TOKEN}"


def graph_endpoint(view):
    """Checks the bearer token, then plays the fault knobs set for the Graph API."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not _authorized(request):
            return graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        path = request.path
        latency = faults.take(Fault.Target.GRAPH, Fault.Action.LATENCY, path=path)
        if latency:
            time.sleep(latency.delay_ms / 1000)
        fault = faults.take(Fault.Target.GRAPH, Fault.Action.TIMEOUT, path=path)
        if fault:
            time.sleep((fault.delay_ms or settings.WHATSAPP_TIMEOUT * 1000 + 1000) / 1000)
            return graph_error(504, 2, "Service temporarily unavailable", "OAuthException")
        # A closed 24-hour window refuses free-form messages, never templates.
        skip = [WINDOW_CLOSED] if _is_template(request) else []
        fault = faults.take(Fault.Target.GRAPH, Fault.Action.ERROR, path=path, skip_codes=skip)
        if fault:
            code = fault.code or 131000
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else None
            return graph_error(
                fault.http_status or 400,
                code,
                faults.MESSAGES.get(code, f"(#{code}) Emulated error"),
                details=faults.DETAILS.get(code),
                headers=headers,
            )
        return view(request, *args, **kwargs)

    return wrapper


def _is_template(request):
    if request.method != "POST" or request.content_type == "multipart/form-data":
        return False  # a media upload: its form is already read, and is no message
    try:
        return json.loads(request.body).get("type") == "template"
    except (ValueError, AttributeError):
        return False


def _check_phone_number_id(phone_number_id):
    if phone_number_id != settings.WHATSAPP_PHONE_NUMBER_ID:
        return graph_error(
            400, 100, f"Unsupported post request. Object with ID '{phone_number_id}' does not exist"
        )
    return None


@graph_endpoint
@require_POST
def graph_messages(request, version, phone_number_id):
    """POST /{version}/{phone-number-id}/messages: send a message, or mark one read."""
    if refused := _check_phone_number_id(phone_number_id):
        return refused
    try:
        data = json.loads(request.body)
    except ValueError:
        return graph_error(400, 100, "Invalid parameter: body is not JSON")
    if data.get("messaging_product") != "whatsapp":
        return graph_error(400, 100, "Invalid parameter: messaging_product is required")
    if data.get("status") == "read":
        return _mark_read(data.get("message_id"))
    to = str(data.get("to", "")).lstrip("+")
    if not to.isdigit():
        return graph_error(400, 100, "Invalid parameter: to is required")
    kind = data.get("type", "text")
    builders = {
        "text": _text,
        "template": _template,
        "image": _media_message,
        "document": _media_message,
        "reaction": _reaction,
    }
    if kind not in builders:
        return graph_error(400, 131051, "Unsupported message type")
    fields = builders[kind](data.get(kind) or {}, kind)
    if isinstance(fields, JsonResponse):
        return fields
    if kind != "template" and not window.is_open(to):
        return _window_closed(data["to"], to)
    # A reaction names its message itself (its builder sets context_wamid).
    fields.setdefault("context_wamid", (data.get("context") or {}).get("message_id"))
    with transaction.atomic():
        message = PhoneMessage.objects.create(
            phone=to, direction=PhoneMessage.Direction.TO_PHONE, kind=kind, **fields
        )
        transaction.on_commit(lambda: meta.post_webhook(meta.status_payload(message, "sent")))
    return JsonResponse(
        {
            "messaging_product": "whatsapp",
            "contacts": [{"input": data["to"], "wa_id": to}],
            "messages": [{"id": message.wamid}],
        }
    )


def _window_closed(given, to):
    """Like Meta: the request is accepted, then a status webhook says it failed (131047).
    Nothing reaches the phone."""
    wamid = new_wamid()
    payload = meta.failed_status_payload(wamid, to, WINDOW_CLOSED)
    transaction.on_commit(lambda: meta.post_webhook(payload))
    return JsonResponse(
        {
            "messaging_product": "whatsapp",
            "contacts": [{"input": given, "wa_id": to}],
            "messages": [{"id": wamid}],
        }
    )


def _text(body, kind):
    text = body.get("body", "")
    if not text or len(text) > MAX_TEXT:
        return graph_error(400, 100, "Invalid parameter: text.body must be 1 to 4096 characters")
    return {"body": text}


def _template(body, kind):
    name = body.get("name", "")
    language = (body.get("language") or {}).get("code", "")
    known = TEMPLATES.get(name)
    if known is None or known[0] != language:
        return graph_error(
            404,
            132001,
            faults.MESSAGES[132001],
            details=f"template name ({name}) does not exist in {language}",
        )
    params = [
        p.get("text", "")
        for component in body.get("components", [])
        if component.get("type") == "body"
        for p in component.get("parameters", [])
    ]
    text = known[1]
    expected = text.count("{{")
    if len(params) != expected:
        return graph_error(
            400, 132000, faults.MESSAGES[132000], details=f"expected {expected}, got {len(params)}"
        )
    for number, value in enumerate(params, start=1):
        text = text.replace(f"{{{{{number}}}}}", value)
    return {"body": text}


def _media_message(body, kind):
    media = Media.objects.filter(media_id=str(body.get("id", ""))).first()
    if media is None:
        return graph_error(400, 131053, "Media upload error", details="unknown media id")
    caption = body.get("caption", "")
    if len(caption) > 1024:
        return graph_error(400, 100, "Invalid parameter: caption is over 1024 characters")
    filename = body.get("filename", "") if kind == "document" else ""
    return {"body": caption, "media_id": media.media_id, "filename": filename}


def _reaction(body, kind):
    target = body.get("message_id", "")
    if not PhoneMessage.objects.filter(wamid=target).exists():
        return graph_error(400, 131009, "Parameter value is not valid: unknown message_id")
    return {"body": body.get("emoji", ""), "context_wamid": target}


def _mark_read(wamid):
    """Like WhatsApp: the message and every earlier one from that phone show as read."""
    received = PhoneMessage.Direction.FROM_PHONE
    message = PhoneMessage.objects.filter(wamid=wamid or "", direction=received).first()
    if message is None:
        return graph_error(400, 100, "Invalid parameter: message_id is not a received message")
    PhoneMessage.objects.filter(phone=message.phone, direction=received, pk__lte=message.pk).update(
        status="read"
    )
    return JsonResponse({"success": True})


@graph_endpoint
@require_POST
def graph_media_upload(request, version, phone_number_id):
    """POST /{version}/{phone-number-id}/media (multipart: file, type, messaging_product)."""
    if refused := _check_phone_number_id(phone_number_id):
        return refused
    upload = request.FILES.get("file")
    mime_type = request.POST.get("type") or (upload.content_type if upload else "")
    if upload is None or request.POST.get("messaging_product") != "whatsapp":
        return graph_error(400, 100, "Invalid parameter: file and messaging_product are required")
    if mime_type not in UPLOAD_TYPES:
        unsupported = f"{mime_type} is not supported"
        return graph_error(400, 131053, "Media upload error", details=unsupported)
    content = upload.read()
    if len(content) > UPLOAD_LIMITS[mime_type.split("/")[0]]:
        return graph_error(400, 131053, "Media upload error", details="file is too large")
    media = Media.store(content, mime_type=mime_type, filename=upload.name)
    return JsonResponse({"id": media.media_id})


@graph_endpoint
@require_GET
def graph_media(request, version, media_id):
    """GET /{version}/{media-id}: where to download it (a short-lived URL on Meta's CDN)."""
    media = Media.objects.filter(media_id=media_id).first()
    if media is None:
        return graph_error(
            400,
            100,
            f"Unsupported get request. Object with ID '{media_id}' does not exist",
            "GraphMethodException",
        )
    return JsonResponse(
        {
            "messaging_product": "whatsapp",
            "url": request.build_absolute_uri(f"/emulator/media/{media.media_id}"),
            "mime_type": media.mime_type,
            "sha256": media.sha256,
            "file_size": len(media.content),
            "id": media.media_id,
        }
    )


@graph_endpoint
@require_GET
def media_download(request, media_id):
    """The media URL itself: like Meta's, it needs the bearer token too."""
    media = Media.objects.filter(media_id=media_id).first()
    if media is None:
        return HttpResponse(status=404)
    return HttpResponse(bytes(media.content), content_type=media.mime_type)


@graph_endpoint
@require_GET
def graph_business_profile(request, version, phone_number_id):
    """GET /{version}/{phone-number-id}/whatsapp_business_profile?fields=..."""
    if refused := _check_phone_number_id(phone_number_id):
        return refused
    fields = request.GET.get("fields", "")
    wanted = set(fields.split(",")) if fields else set(BUSINESS_PROFILE)
    profile = {k: v for k, v in BUSINESS_PROFILE.items() if k in wanted or k == "messaging_product"}
    return JsonResponse({"data": [profile]})


# --- Fault knobs --------------------------------------------------------------------------


@csrf_exempt
@require_http_methods(["GET", "POST", "DELETE"])
def fault_knobs(request):
    """GET: the knobs set. POST {target, action, count?, http_status?, code?, retry_after?,
    delay_ms?, path?}: add one. DELETE: clear them all."""
    if request.method == "DELETE":
        faults.clear()
        return JsonResponse({"faults": []})
    if request.method == "POST":
        try:
            data = json.loads(request.body)
            fault = Fault(
                target=data["target"],
                action=data["action"],
                remaining=data.get("count", 1),
                http_status=data.get("http_status"),
                code=data.get("code"),
                retry_after=data.get("retry_after"),
                delay_ms=int(data.get("delay_ms", 0)),
                path=str(data.get("path", "")),
            )
            fault.full_clean()
        except (ValueError, KeyError, TypeError, AttributeError, ValidationError) as exc:
            return JsonResponse({"error": f"invalid fault: {exc}"}, status=400)
        fault.save()
        return JsonResponse(fault.as_json(), status=201)
    live = [*faults.live(Fault.Target.GRAPH), *faults.live(Fault.Target.WEBHOOKS)]
    return JsonResponse({"faults": [fault.as_json() for fault in live]})


@csrf_exempt
@require_http_methods(["GET", "POST"])
def window_knob(request):
    """The 24-hour window of one phone (window.py). GET ?phone=: its state. POST {phone,
    last_wrote_hours_ago}: as if the phone last wrote that long ago (0: just now)."""
    if request.method == "GET":
        return JsonResponse(window.state(request.GET.get("phone", "")))
    try:
        data = json.loads(request.body)
        phone = str(data["phone"]).lstrip("+")
        hours = float(data["last_wrote_hours_ago"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return JsonResponse({"error": f"invalid window: {exc}"}, status=400)
    if not phone.isdigit() or not 0 <= hours <= 24 * 365:
        return JsonResponse({"error": "phone must be digits, hours 0 to 8760"}, status=400)
    window.age(phone, hours)
    return JsonResponse(window.state(phone))


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
    messages = PhoneMessage.objects.filter(phone=phone).exclude(kind=window.OPENED).order_by("pk")
    return JsonResponse({"messages": [m.as_json() for m in messages], "phones": _known_phones()})


@csrf_exempt
@require_POST
def phone_send(request):
    """The phone user sends a text (optionally replying to a message), a reaction, or an
    image or document ({"media": {"data": base64, "mime_type", "filename"}, "text": caption})."""
    try:
        data = json.loads(request.body)
    except ValueError:
        return JsonResponse({"error": "body is not JSON"}, status=400)
    phone = str(data.get("phone", "")).lstrip("+")
    text = str(data.get("text") or "").strip()
    media = None
    if not phone.isdigit() or not 6 <= len(phone) <= 15:
        return JsonResponse({"error": "phone must be 6 to 15 digits"}, status=400)
    if data.get("reaction") is not None:
        kind = "reaction"
    elif data.get("media"):
        try:
            media = _phone_media(data["media"])
        except ValueError as exc:
            return JsonResponse({"error": str(exc)}, status=400)
        kind = "image" if media.mime_type.startswith("image/") else "document"
    else:
        kind = "text"
        if not 0 < len(text) <= MAX_TEXT:
            return JsonResponse({"error": "text must be 1 to 4096 characters"}, status=400)
    message = PhoneMessage.objects.create(
        phone=phone,
        direction=PhoneMessage.Direction.FROM_PHONE,
        kind=kind,
        body=data["reaction"] if kind == "reaction" else text,
        context_wamid=data.get("reply_to") or None,
        media_id=media.media_id if media else "",
        filename=media.filename if media else "",
    )
    profile_name = str(data.get("name") or "") or _profile_name(phone)
    meta.post_webhook(meta.message_payload(message, profile_name=profile_name, media=media))
    return JsonResponse(message.as_json(), status=201)


def _phone_media(spec):
    mime_type = str(spec.get("mime_type", ""))
    if mime_type not in UPLOAD_TYPES:
        raise ValueError(f"{mime_type or 'this file type'} cannot be sent")
    try:
        content = base64.b64decode(spec.get("data", ""), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("media.data must be base64") from exc
    if not content or len(content) > UPLOAD_LIMITS[mime_type.split("/")[0]]:
        raise ValueError("the file is empty or too large")
    return Media.store(content, mime_type=mime_type, filename=str(spec.get("filename", ""))[:255])


@require_GET
def phone_media(request, media_id):
    """The phone page shows images the business sent (no token: it is the phone's view)."""
    media = Media.objects.filter(media_id=media_id).first()
    if media is None:
        return HttpResponse(status=404)
    return HttpResponse(bytes(media.content), content_type=media.mime_type)


def _profile_name(phone):
    agent = ChatAgent.objects.select_related("user").filter(whatsapp_phone_number=phone).first()
    return agent.name if agent else f"Customer {phone[-4:]}"
