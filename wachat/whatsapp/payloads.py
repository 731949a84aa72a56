"""Webhook bodies become typed objects here, once; the rest of the code never digs in dicts.

Shapes: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components
Anything we do not recognise becomes an explicit unsupported message, never an exception.
"""

import json
from dataclasses import dataclass, field

from wachat.ops.nul import without_nul


class MalformedPayload(ValueError):
    """Signed, but not a WhatsApp Business Account webhook we can read."""


@dataclass
class InboundMessage:
    wamid: str
    sender: str  # the wa_id that wrote
    profile_name: str
    raw_type: str
    message_type: str  # one of the seed's: text, image, document
    text: str  # what to show: the body, a caption, or a description of the content
    reply_to: str | None = None  # context.id: the wamid this message answers
    media_id: str | None = None
    metadata: dict = field(default_factory=dict)


@dataclass
class Reaction:
    wamid: str
    sender: str
    target_wamid: str
    emoji: str  # empty: the reaction was removed


@dataclass
class StatusUpdate:
    wamid: str
    status: str  # sent, delivered, read, failed
    recipient: str
    error: dict | None = None


@dataclass
class WebhookBatch:
    messages: list[InboundMessage] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)

    @property
    def event_type(self):
        kinds = [
            name
            for name, items in (
                ("messages", self.messages or self.reactions),
                ("statuses", self.statuses),
            )
            if items
        ]
        return "+".join(kinds) or "other"


def parse_body(body):
    """A webhook body as stored: (payload, None), or (None, the text) when it is not JSON,
    kept for review. A NUL character, which PostgreSQL cannot store, becomes U+FFFD: the
    event is kept either way (wachat/ops/nul.py)."""
    try:
        return without_nul(json.loads(body)), None
    except (UnicodeDecodeError, ValueError):
        return None, without_nul(body.decode("utf-8", errors="replace"))


def event_type_of(payload):
    """A short label for the webhook log; never raises."""
    try:
        return parse(payload).event_type
    except MalformedPayload:
        return "malformed"


def parse(payload):
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        raise MalformedPayload("not a whatsapp_business_account webhook")
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise MalformedPayload("entry is missing")
    batch = WebhookBatch()
    try:
        for entry in entries:
            for change in entry.get("changes", []):
                if change.get("field") != "messages":
                    continue
                _parse_value(change.get("value") or {}, batch)
    except (AttributeError, KeyError, TypeError) as exc:
        raise MalformedPayload(f"unexpected shape: {exc!r}") from exc
    return batch


def _parse_value(value, batch):
    names = {
        c["wa_id"]: (c.get("profile") or {}).get("name", "") for c in value.get("contacts", [])
    }
    for raw in value.get("messages", []):
        if raw.get("type") == "reaction":
            reaction = raw["reaction"]
            batch.reactions.append(
                Reaction(
                    wamid=raw["id"],
                    sender=raw["from"],
                    target_wamid=reaction["message_id"],
                    emoji=reaction.get("emoji", ""),
                )
            )
        else:
            batch.messages.append(_parse_message(raw, names.get(raw["from"], "")))
    for raw in value.get("statuses", []):
        errors = raw.get("errors") or []
        batch.statuses.append(
            StatusUpdate(
                wamid=raw["id"],
                status=raw["status"],
                recipient=raw.get("recipient_id", ""),
                error=_status_error(errors[0]) if errors else None,
            )
        )


def _status_error(error):
    details = (error.get("error_data") or {}).get("details")
    return {
        "code": error.get("code"),
        "reason": details or error.get("message") or error.get("title", ""),
    }


def _parse_message(raw, profile_name):
    kind = raw.get("type", "unsupported")
    body = raw.get(kind) if isinstance(raw.get(kind), dict) else {}
    message = InboundMessage(
        wamid=raw["id"],
        sender=raw["from"],
        profile_name=profile_name,
        raw_type=kind,
        message_type="text",
        text="",
        reply_to=(raw.get("context") or {}).get("id"),
    )
    if kind == "text":
        message.text = body.get("body", "")
    elif kind in ("image", "document"):
        message.message_type = kind
        message.media_id = body.get("id")
        message.text = body.get("caption") or body.get("filename") or ""
        message.metadata = {"mime_type": body.get("mime_type"), "filename": body.get("filename")}
    elif kind in ("audio", "video", "sticker"):
        message.media_id = body.get("id")
        message.text = body.get("caption") or f"[{kind}]"
        message.metadata = {"raw_type": kind, "mime_type": body.get("mime_type")}
    elif kind == "location":
        place = ", ".join(p for p in (body.get("name"), body.get("address")) if p)
        message.text = f"📍 {place} ({body.get('latitude')}, {body.get('longitude')})".strip()
        message.metadata = {"raw_type": kind, "location": body}
    elif kind == "contacts":
        people = [(c.get("name") or {}).get("formatted_name", "") for c in raw.get("contacts", [])]
        message.text = "👤 " + ", ".join(p for p in people if p)
        message.metadata = {"raw_type": kind, "contacts": raw.get("contacts", [])}
    elif kind == "interactive":
        reply = body.get("button_reply") or body.get("list_reply") or {}
        message.text = reply.get("title", "")
        message.metadata = {"raw_type": kind, "reply_id": reply.get("id")}
    elif kind == "button":
        message.text = body.get("text", "")
        message.metadata = {"raw_type": kind, "payload": body.get("payload")}
    else:
        message.text = "[message type not supported]"
        message.metadata = {"raw_type": kind, "errors": raw.get("errors")}
    if message.media_id:
        message.metadata["media_id"] = message.media_id
    return message
