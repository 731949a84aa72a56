"""The visitor's JSON API (django-ninja). The WebSocket carries the same calls; this is the
HTTP path for first load, history, forms and browsers whose WebSocket is blocked (the
long-poll at /poll).

CORS and the origin allowlist are applied by middleware.WidgetCorsMiddleware; writes are
rate limited per visitor and per IP (ratelimit.py)."""

import asyncio
import json
import re
import uuid
import weakref

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from ninja import File, Form, NinjaAPI, Schema, Status
from ninja.errors import ValidationError
from ninja.files import UploadedFile
from ninja.parser import Parser
from ninja.security import APIKeyHeader

from wachat.conversations import actions, attachments, selectors
from wachat.conversations.events import message_data
from wachat.conversations.models import Conversation, VisitorSession, client_id_problem
from wachat.realtime import groups
from wachat.widget import auth, catchup, geo, ratelimit
from wachat.widget.config import widget_config


class ObjectParser(Parser):
    """Every body this API takes is a JSON object: anything else ([1, 2], 5, "x") is a
    400 ("Cannot parse request body"), not read as an empty one."""

    def parse_body(self, request):
        data = json.loads(request.body)
        if not isinstance(data, dict):
            raise ValueError("the body is not a JSON object")
        return data


api = NinjaAPI(
    title="WaChat widget API", version="1", urls_namespace="widget-api", parser=ObjectParser()
)

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$")
PHONE = re.compile(r"^\+?[0-9 ()-]{6,20}$")


class VisitorToken(APIKeyHeader):
    param_name = "X-WaChat-Token"

    def authenticate(self, request, key):
        session_id = auth.session_id_from_token(key)
        if session_id is None:
            return None
        return VisitorSession.objects.filter(pk=session_id).first()


@api.exception_handler(ValidationError)
def malformed(request, exc):
    """Schema errors as one sentence the widget can show, not a list of pydantic paths."""
    fields = sorted({str(e.get("loc", ["?"])[-1]) for e in exc.errors})
    return api.create_response(
        request, {"detail": f"Malformed request ({', '.join(fields)})."}, status=400
    )


class SessionIn(Schema):
    token: str | None = None
    referrer: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None


class MessageIn(Schema):
    client_id: str
    text: str


class ProfileIn(Schema):
    name: str = ""
    email: str = ""
    phone: str = ""
    consent: bool = False


class OfflineIn(Schema):
    name: str
    email: str
    text: str
    client_id: str


class MessageOut(Schema):
    id: int
    conversation_id: str
    client_id: str | None
    direction: str
    sender_type: str
    sender_name: str
    message_type: str
    content: str
    media_url: str | None
    attachment: dict | None = None
    status: str
    error: dict | None
    reactions: dict
    created_at: str


class MessagesOut(Schema):
    messages: list[MessageOut]
    has_more: bool = False


class Error(Schema):
    detail: str
    retry_after: int | None = None


def _limited(request, kind, visitor=None):
    return ratelimit.check(
        kind, visitor_id=visitor and visitor.pk, ip=ratelimit.client_ip(request.META)
    )


def _too_many(limited):
    return Status(429, {"detail": limited.detail, "retry_after": limited.retry_after})


def _session_state(session):
    conversation = selectors.visitor_conversation(session.pk)
    offline = bool(conversation and (conversation.metadata or {}).get("offline"))
    return {
        "token": auth.issue_token(session.pk),
        "session_id": session.pk,
        "profile": {
            "name": (session.metadata or {}).get("name", ""),
            "email": (session.metadata or {}).get("email", ""),
        },
        "conversation": conversation
        and {
            "id": str(conversation.pk),
            "code": conversation.code,
            "status": conversation.status,
            "agent_name": conversation.agent.name if conversation.agent_id else None,
            "rated": conversation.rating is not None,
            # Left with the offline form: answered by e-mail, not from the queue.
            "offline": offline,
        },
        # Waiting in the queue: {"position": n, "minutes": m or None}; updated live by
        # queue.updated events. None for an offline-form conversation: nobody is there to
        # take it, so a place in line would be a false promise.
        "wait": None if offline else conversation and selectors.queue_wait(conversation),
    }


@api.get("/config")
def get_config(request):
    """Title, colours, greeting, language, forms and business hours set in the admin."""
    return widget_config()


@api.post("/session", response={200: dict, 429: Error})
def start_session(request, data: SessionIn):
    """Start a visitor session, or continue the one a still-valid token names."""
    limited = _limited(request, "session")
    if limited:
        return _too_many(limited)
    session_id = auth.session_id_from_token(data.token) or auth.new_session_id()
    session = actions.touch_visitor_session(
        session_id=session_id,
        ip_address=ratelimit.client_ip(request.META),
        user_agent=request.headers.get("User-Agent", "")[:1000],
        referrer=data.referrer,
        utm={
            "source": (data.utm_source or "")[:100] or None,
            "medium": (data.utm_medium or "")[:100] or None,
            "campaign": (data.utm_campaign or "")[:100] or None,
        },
    )
    session = actions.record_visitor_location(
        visitor_session=session, location=geo.location_from_headers(request.headers)
    )
    return _session_state(session)


@api.get("/messages", response=MessagesOut, auth=VisitorToken())
def list_messages(request, after: int = 0, before: int = 0):
    """The latest 50 messages; the next 200 after the id `after` (resume); or the 50 just
    before the id `before` (scrolling up)."""
    if before:
        messages = selectors.visitor_messages_before(request.auth.pk, before=before, limit=51)
        has_more = len(messages) > 50
        messages = messages[-50:]
    else:
        limit = 200 if after else 50
        messages = selectors.visitor_messages(request.auth.pk, after=after, limit=limit + 1)
        has_more = len(messages) > limit
        messages = messages[:limit] if after else messages[-limit:]
    return {"messages": [message_data(m) for m in messages], "has_more": has_more}


_stopping = weakref.WeakKeyDictionary()  # event loop -> its server_stopping() event


def server_stopping():
    """Set by `manage.py serve` when the server begins to shut down: waiting polls answer
    at once, as if their wait were over (the widget polls again, reaching this server
    back or another one), instead of being cut off with a 500."""
    return _stopping.setdefault(asyncio.get_running_loop(), asyncio.Event())


def release_connection():
    """Close this thread's database connection, unless a transaction holds it (a test's)."""
    if not connection.in_atomic_block:
        connection.close()


@api.get("/poll", auth=VisitorToken())
async def poll(request, after: int = 0, wait: int = -1, since: str = ""):
    """Long-poll for browsers whose WebSocket is blocked: answers at once with messages
    after `after`, else waits (`wait` seconds, at most WIDGET_POLL_SECONDS) for the next
    event on the visitor's stream and answers with it. Subscribes before reading, so
    nothing published in between is missed.

    Each answer has a `cursor`; sent back as `since`, messages already delivered that
    changed after it (ticks, reactions) come back in `updates`, so a change made between
    two polls is not missed either. `conversation` is the visitor's latest conversation
    (closed, assigned) for the same reason."""
    limit = settings.WIDGET_POLL_SECONDS
    wait = limit if wait < 0 else min(wait, limit)
    session = request.auth
    cursor = catchup.parse_cursor(since)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    own = [groups.visitor(session.pk), groups.visitors()]
    for group in own:
        await layer.group_add(group, channel)
    try:
        found = await sync_to_async(catchup.catch_up)(session.pk, after=after, since=cursor)
        events = []
        if not (found["messages"] or found["updates"]) and wait:
            # Hundreds of widgets may be waiting here: none holds a database connection.
            await sync_to_async(release_connection)()
            receiving = asyncio.ensure_future(layer.receive(channel))
            stopping = asyncio.ensure_future(server_stopping().wait())
            try:
                await asyncio.wait(
                    [receiving, stopping], timeout=wait, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for waiting in (receiving, stopping):
                    waiting.cancel()
            if receiving.done() and not receiving.cancelled():
                event = receiving.result()
                events.append({k: v for k, v in event.items() if k != "type"})
            # The cursor looks back a little when a poll ends without news, so a change
            # saved just before the previous answer but committed just after it arrives.
            found = await sync_to_async(catchup.catch_up)(
                session.pk, after=after, since=cursor, overlap=True
            )
    finally:
        for group in own:
            await layer.group_discard(group, channel)
    return {**found, "events": events}


@api.post(
    "/messages",
    response={200: MessageOut, 201: MessageOut, 400: Error, 429: Error},
    auth=VisitorToken(),
)
def post_message(request, data: MessageIn):
    """Send a message. Retrying with the same client_id returns the first message (200)."""
    if problem := client_id_problem(data.client_id):
        return Status(400, {"detail": problem})
    limited = _limited(request, "message", request.auth)
    if limited:
        return _too_many(limited)
    try:
        message, created = actions.send_visitor_message(
            visitor_session=request.auth, text=data.text, client_id=data.client_id
        )
    except actions.InvalidMessage as exc:
        return Status(400, {"detail": str(exc)})
    return Status(201 if created else 200, message_data(message))


@api.post(
    "/messages/{message_id}/retry",
    response={200: MessageOut, 404: Error, 429: Error},
    auth=VisitorToken(),
)
def retry_message(request, message_id: int):
    """ "Tap to retry" on a message whose delivery failed: the same row goes back to pending
    and is handed to the transports again (no second message is created)."""
    message = (
        selectors.visitor_messages_by_id(request.auth.pk, [message_id])
        .filter(sender_type="visitor")
        .first()
    )
    if message is None:
        return Status(404, {"detail": "No such message."})
    limited = _limited(request, "message", request.auth)
    if limited:
        return _too_many(limited)
    retried = actions.retry_failed_message(message=message)
    message.refresh_from_db()
    return Status(200, message_data(retried or message))


class IdentityIn(Schema):
    user_id: str
    timestamp: int
    signature: str


@api.post("/identify", response={200: dict, 400: Error, 429: Error}, auth=VisitorToken())
def identify(request, data: IdentityIn):
    """A logged-in user of the host site, vouched for with an HMAC (see auth.py): answers
    with the token of that user's own session, whose history is on every device."""
    if not 0 < len(data.user_id) <= 100:
        return Status(400, {"detail": "user_id must be 1 to 100 characters."})
    problem = auth.check_identity(data.user_id, data.timestamp, data.signature)
    if problem:
        return Status(400, {"detail": problem})
    limited = _limited(request, "form", request.auth)
    if limited:
        return _too_many(limited)
    session = actions.verify_visitor_identity(visitor_session=request.auth, user_id=data.user_id)
    return _session_state(session)


def _check_contact(name, email, phone):
    if len(name.strip()) > 100:
        return "Name is too long (100 characters at most)."
    if email and not EMAIL.match(email.strip()):
        return "That e-mail address does not look right."
    if phone and not PHONE.match(phone.strip()):
        return "That phone number does not look right."
    return None


@api.post("/profile", response={200: dict, 400: Error, 429: Error}, auth=VisitorToken())
def update_profile(request, data: ProfileIn):
    """The pre-chat form: name, and e-mail/phone kept only with consent."""
    problem = _check_contact(data.name, data.email, data.phone)
    if problem:
        return Status(400, {"detail": problem})
    if (data.email or data.phone) and not data.consent:
        detail = "Please agree to be contacted, or leave e-mail and phone empty."
        return Status(400, {"detail": detail})
    limited = _limited(request, "form", request.auth)
    if limited:
        return _too_many(limited)
    session = actions.update_visitor_profile(
        visitor_session=request.auth,
        name=data.name.strip(),
        email=data.email.strip(),
        phone=data.phone.strip(),
        consent=data.consent,
    )
    return _session_state(session)


@api.post(
    "/offline",
    response={200: MessageOut, 201: MessageOut, 400: Error, 429: Error},
    auth=VisitorToken(),
)
def leave_offline_message(request, data: OfflineIn):
    """The offline form: name, e-mail and a message for when the team is back."""
    if not data.name.strip() or not data.email.strip():
        return Status(400, {"detail": "Please give your name and e-mail so we can answer."})
    problem = _check_contact(data.name, data.email, "")
    if problem:
        return Status(400, {"detail": problem})
    if problem := client_id_problem(data.client_id):
        return Status(400, {"detail": problem})
    limited = _limited(request, "form", request.auth)
    if limited:
        return _too_many(limited)
    try:
        message, created = actions.leave_offline_message(
            visitor_session=request.auth,
            name=data.name.strip(),
            email=data.email.strip(),
            text=data.text,
            client_id=data.client_id,
        )
    except actions.InvalidMessage as exc:
        return Status(400, {"detail": str(exc)})
    return Status(201 if created else 200, message_data(message))


# --- Satisfaction, transcripts, read receipts -----------------------------------------------


class RatingIn(Schema):
    conversation_id: str
    rating: int
    comment: str = ""


class TranscriptIn(Schema):
    conversation_id: str
    email: str


class SeenIn(Schema):
    up_to: int


def _own_conversation(visitor, conversation_id):
    """The visitor's own conversation `conversation_id`, else None (others' look absent)."""
    try:
        pk = uuid.UUID(conversation_id)
    except ValueError:
        return None
    return Conversation.objects.filter(pk=pk, visitor_session=visitor).first()


@api.post(
    "/rating",
    response={200: dict, 400: Error, 404: Error, 409: Error, 429: Error},
    auth=VisitorToken(),
)
def rate(request, data: RatingIn):
    """Rate a closed conversation 1 to 5, with an optional comment; once."""
    conversation = _own_conversation(request.auth, data.conversation_id)
    if conversation is None:
        return Status(404, {"detail": "No such conversation."})
    limited = _limited(request, "form", request.auth)
    if limited:
        return _too_many(limited)
    try:
        conversation = actions.rate_conversation(
            conversation=conversation, rating=data.rating, comment=data.comment
        )
    except actions.InvalidMessage as exc:
        return Status(400, {"detail": str(exc)})
    except actions.ActionRefused as exc:
        return Status(409, {"detail": str(exc)})
    return {"rating": conversation.rating, "rated_at": conversation.rated_at.isoformat()}


@api.post(
    "/transcript",
    response={202: dict, 400: Error, 404: Error, 429: Error},
    auth=VisitorToken(),
)
def transcript(request, data: TranscriptIn):
    """E-mail the conversation's transcript to `email` (sent by the worker)."""
    conversation = _own_conversation(request.auth, data.conversation_id)
    if conversation is None:
        return Status(404, {"detail": "No such conversation."})
    email = data.email.strip()
    if not EMAIL.match(email):
        return Status(400, {"detail": "That e-mail address does not look right."})
    limited = _limited(request, "transcript", request.auth)
    if limited:
        return _too_many(limited)
    actions.request_transcript(conversation=conversation, email=email)
    return Status(202, {"detail": "The transcript is on its way."})


@api.post("/seen", response={200: dict, 429: Error}, auth=VisitorToken())
def seen(request, data: SeenIn):
    """Read receipts without a WebSocket: the visitor has seen agent messages up to the id
    `up_to` (the WebSocket frame {"type": "seen", "up_to": id} does the same)."""
    limited = _limited(request, "seen", request.auth)
    if limited:
        return _too_many(limited)
    read = actions.mark_read_by_visitor(visitor_session=request.auth, up_to=data.up_to)
    return {"read": read}


@api.post(
    "/attachments",
    response={200: MessageOut, 201: MessageOut, 400: Error, 413: Error, 415: Error, 429: Error},
    auth=VisitorToken(),
)
def post_attachment(
    request, file: File[UploadedFile], client_id: Form[str], caption: Form[str] = ""
):
    """Attach an image (JPEG, PNG) or a document (PDF, Word, Excel, PowerPoint, text),
    multipart, with an optional caption. Checked by content: 413 too large, 415 not a type
    we accept. Retrying with the same client_id returns the first message (200)."""
    if problem := client_id_problem(client_id):
        return Status(400, {"detail": problem})
    limited = _limited(request, "upload", request.auth)
    if limited:
        return _too_many(limited)
    try:
        message, created = actions.send_visitor_attachment(
            visitor_session=request.auth,
            content=attachments.read(file),
            filename=file.name,
            client_id=client_id,
            caption=caption,
        )
    except attachments.InvalidAttachment as exc:
        return Status(exc.status, {"detail": str(exc)})
    return Status(201 if created else 200, message_data(message))
