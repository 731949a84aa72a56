"""WebSocket consumers: authenticate, join groups, forward events, hand writes to actions.

Frames from the browser:
  {"type": "resume", "after": <last message id seen>}   -> {"type": "history", ...}
  {"type": "message", "client_id": "...", "text": "..."} -> {"type": "ack", ...} or "error"
  {"type": "ping"}                                        -> {"type": "pong"}
Events pushed to the browser: {"type": "event", "event": "message.created", ...}
"""

import json
import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.exceptions import ValidationError

from wachat.conversations import actions, selectors
from wachat.conversations.events import message_data
from wachat.conversations.models import ChatAgent, Conversation, VisitorSession
from wachat.realtime import groups
from wachat.widget import auth

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 16 * 1024


class ChatConsumer(AsyncJsonWebsocketConsumer):
    """Shared frame handling; subclasses decide who may connect and what they may write."""

    joined: list

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None or len(text_data) > MAX_FRAME_BYTES:
            await self.send_json({"type": "error", "detail": "Frame too large or not text."})
            return
        try:
            frame = json.loads(text_data)
        except ValueError:
            frame = None
        if not isinstance(frame, dict):
            await self.send_json({"type": "error", "detail": "Frames are JSON objects."})
            return
        handler = getattr(self, f"frame_{frame.get('type')}", None)
        if handler is None:
            await self.send_json({"type": "error", "detail": "Unknown frame type."})
            return
        await handler(frame)

    async def frame_ping(self, frame):
        await self.send_json({"type": "pong"})

    async def join(self, *names):
        self.joined = list(names)
        for name in names:
            await self.channel_layer.group_add(name, self.channel_name)

    async def disconnect(self, code):
        for name in getattr(self, "joined", []):
            await self.channel_layer.group_discard(name, self.channel_name)

    async def chat_event(self, event):
        payload = {key: value for key, value in event.items() if key != "type"}
        await self.send_json({"type": "event", **payload})


class WidgetConsumer(ChatConsumer):
    """One visitor's browser: /ws/widget/?token=<signed visitor token>."""

    async def connect(self):
        query = parse_qs(self.scope.get("query_string", b"").decode())
        session_id = auth.session_id_from_token((query.get("token") or [""])[0])
        self.visitor = await _visitor_session(session_id)
        if self.visitor is None:
            await self.close(code=4401)
            return
        await self.accept()
        await self.join(groups.visitor(self.visitor.pk))

    async def frame_resume(self, frame):
        after = frame.get("after") if isinstance(frame.get("after"), int) else 0
        messages = await database_sync_to_async(selectors.visitor_messages)(
            self.visitor.pk, after=after, limit=200 if after else 50
        )
        await self.send_json({"type": "history", "messages": [message_data(m) for m in messages]})

    async def frame_message(self, frame):
        client_id, text = frame.get("client_id"), frame.get("text")
        if not isinstance(client_id, str) or not 0 < len(client_id) <= 64:
            await self.send_json(
                {"type": "error", "detail": "client_id must be 1 to 64 characters."}
            )
            return
        try:
            message, _ = await database_sync_to_async(actions.send_visitor_message)(
                visitor_session=self.visitor,
                text=text if isinstance(text, str) else "",
                client_id=client_id,
            )
        except actions.InvalidMessage as exc:
            await self.send_json({"type": "error", "client_id": client_id, "detail": str(exc)})
            return
        await self.send_json(
            {"type": "ack", "client_id": client_id, "message": message_data(message)}
        )


class AgentConsumer(ChatConsumer):
    """An agent's Conversation Center: /ws/agent/ with the Django session cookie."""

    async def connect(self):
        user = self.scope.get("user")
        self.agent = await _agent_for(user)
        if self.agent is None:
            await self.close(code=4403)
            return
        await self.accept()
        await self.join(groups.agents())

    async def frame_message(self, frame):
        client_id, text = frame.get("client_id"), frame.get("text")
        conversation = await _conversation(frame.get("conversation_id"))
        if conversation is None or not isinstance(client_id, str) or not 0 < len(client_id) <= 64:
            await self.send_json(
                {"type": "error", "client_id": client_id, "detail": "Unknown conversation."}
            )
            return
        try:
            message, _ = await database_sync_to_async(actions.send_agent_message)(
                conversation=conversation,
                agent=self.agent,
                text=text if isinstance(text, str) else "",
                client_id=client_id,
            )
        except actions.InvalidMessage as exc:
            await self.send_json({"type": "error", "client_id": client_id, "detail": str(exc)})
            return
        await self.send_json(
            {"type": "ack", "client_id": client_id, "message": message_data(message)}
        )


@database_sync_to_async
def _visitor_session(session_id):
    return VisitorSession.objects.filter(pk=session_id).first() if session_id else None


@database_sync_to_async
def _agent_for(user):
    if user is None or not user.is_authenticated:
        return None
    return ChatAgent.objects.select_related("user").filter(user=user).first()


@database_sync_to_async
def _conversation(conversation_id):
    try:
        return (
            Conversation.objects.select_related("agent", "visitor_session")
            .filter(pk=conversation_id)
            .first()
        )
    except (ValidationError, ValueError, TypeError):  # not a UUID
        return None
