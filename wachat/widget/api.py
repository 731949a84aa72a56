"""The visitor's JSON API (django-ninja). The WebSocket carries the same calls; this is the
HTTP path for first load, history and browsers whose WebSocket is blocked."""

from ninja import NinjaAPI, Schema
from ninja.security import APIKeyHeader

from wachat.conversations import actions, selectors
from wachat.conversations.events import message_data
from wachat.conversations.models import VisitorSession
from wachat.widget import auth

api = NinjaAPI(title="WaChat widget API", version="1", urls_namespace="widget-api")


class VisitorToken(APIKeyHeader):
    param_name = "X-WaChat-Token"

    def authenticate(self, request, key):
        session_id = auth.session_id_from_token(key)
        if session_id is None:
            return None
        return VisitorSession.objects.filter(pk=session_id).first()


class SessionIn(Schema):
    token: str | None = None
    referrer: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None


class SessionOut(Schema):
    token: str
    session_id: str


class MessageIn(Schema):
    client_id: str
    text: str


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
    status: str
    error: dict | None
    reactions: dict
    created_at: str


class MessagesOut(Schema):
    messages: list[MessageOut]


class Error(Schema):
    detail: str


@api.post("/session", response=SessionOut)
def start_session(request, data: SessionIn):
    """Start a visitor session, or continue the one a still-valid token names."""
    session_id = auth.session_id_from_token(data.token) or auth.new_session_id()
    session = actions.touch_visitor_session(
        session_id=session_id,
        ip_address=request.META.get("REMOTE_ADDR", ""),
        user_agent=request.headers.get("User-Agent", ""),
        referrer=data.referrer,
        utm={"source": data.utm_source, "medium": data.utm_medium, "campaign": data.utm_campaign},
    )
    return {"token": auth.issue_token(session.pk), "session_id": session.pk}


@api.get("/messages", response=MessagesOut, auth=VisitorToken())
def list_messages(request, after: int = 0):
    """The latest 50 messages, or the next 200 after the id `after` (resume)."""
    limit = 200 if after else 50
    messages = selectors.visitor_messages(request.auth.pk, after=after, limit=limit)
    return {"messages": [message_data(m) for m in messages]}


@api.post(
    "/messages",
    response={200: MessageOut, 201: MessageOut, 400: Error},
    auth=VisitorToken(),
)
def post_message(request, data: MessageIn):
    """Send a message. Retrying with the same client_id returns the first message (200)."""
    if not data.client_id or len(data.client_id) > 64:
        return 400, {"detail": "client_id must be 1 to 64 characters."}
    try:
        message, created = actions.send_visitor_message(
            visitor_session=request.auth, text=data.text, client_id=data.client_id
        )
    except actions.InvalidMessage as exc:
        return 400, {"detail": str(exc)}
    return (201 if created else 200), message_data(message)
