"""WebSocket consumers: authenticate, join groups, forward events, hand writes to actions.

Frames from the browser:
  {"type": "resume", "after": <last message id seen>, "since": <cursor, optional>}
                                                          -> {"type": "history", ...}
  {"type": "message", "client_id": "...", "text": "..."} -> {"type": "ack", ...} or "error"
  {"type": "ping"}                                        -> {"type": "pong"}
  {"type": "typing", "typing": true|false}  (widget)      -> event "typing" to agents
  {"type": "seen", "up_to": <message id>}    (widget)      -> agent messages turn read
Events pushed to the browser: {"type": "event", "event": "message.created", ...}
"""

import json
import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils.dateparse import parse_datetime

from wachat.agents import actions as agent_actions
from wachat.agents import selectors as agent_access
from wachat.conversations import actions
from wachat.conversations.events import message_data
from wachat.conversations.models import ChatAgent, Message, VisitorSession, client_id_problem
from wachat.ops import metrics, nul
from wachat.realtime import groups
from wachat.widget import auth, catchup, ratelimit
from wachat.widget import config as widget_config

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 16 * 1024
SCHEMES = ("http", "https")  # the Host header does not say which one the page used


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
        if nul.has_nul(frame):
            client_id = frame.get("client_id")
            await self.send_json(
                {
                    "type": "error",
                    "client_id": None if nul.has_nul(client_id) else client_id,
                    "detail": nul.PROBLEM,
                }
            )
            return
        handler = getattr(self, f"frame_{frame.get('type')}", None)
        if handler is None:
            await self.send_json({"type": "error", "detail": "Unknown frame type."})
            return
        await handler(frame)

    async def frame_ping(self, frame):
        await self.send_json({"type": "pong"})

    kind = "chat"  # metrics label

    async def join(self, *names):
        """Called once a connection is accepted: subscribe to the person's groups."""
        self.joined = list(names)
        metrics.websocket_connections.labels(self.kind).inc()
        for name in names:
            await self.channel_layer.group_add(name, self.channel_name)

    async def disconnect(self, code):
        if hasattr(self, "joined"):
            metrics.websocket_connections.labels(self.kind).dec()
            metrics.websocket_disconnects.labels(self.kind).inc()
        for name in getattr(self, "joined", []):
            await self.channel_layer.group_discard(name, self.channel_name)

    async def chat_event(self, event):
        payload = {key: value for key, value in event.items() if key != "type"}
        await self.send_json({"type": "event", **payload})


class WidgetConsumer(ChatConsumer):
    """One visitor's browser: /ws/widget/?token=<signed visitor token>."""

    kind = "widget"

    async def connect(self):
        headers = dict(self.scope.get("headers", []))
        origin = headers.get(b"origin", b"").decode("latin-1")
        own = [f"{scheme}://{headers.get(b'host', b'').decode('latin-1')}" for scheme in SCHEMES]
        if not await database_sync_to_async(widget_config.is_allowed_origin)(origin, own):
            await self.close(code=4403)  # the widget is not allowed on this website
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        session_id = auth.session_id_from_token((query.get("token") or [""])[0])
        self.visitor = await _visitor_session(session_id)
        if self.visitor is None:
            await self.close(code=4401)
            return
        client = self.scope.get("client") or ["", 0]
        self.ip = client[0] or ""
        await self.accept()
        await self.join(groups.visitor(self.visitor.pk), groups.visitors())

    async def frame_resume(self, frame):
        """Messages after the id `after` (the latest 50 when 0), the conversation's state
        and a `cursor`; with `since` (the newest cursor the widget got, from an answer or an
        event's message.updated_at), also the messages it has that changed meanwhile
        (`updates`: ticks, failures), as the long-poll answers (widget/catchup.py).

        Always looks back catchup.OVERLAP before `since`: a cursor from an event can be
        newer than a change that was still committing when that event was sent."""
        after = frame.get("after") if isinstance(frame.get("after"), int) else 0
        if after:
            metrics.websocket_resumes.labels(self.kind).inc()
        found = await database_sync_to_async(catchup.catch_up)(
            self.visitor.pk,
            after=after,
            since=catchup.parse_cursor(frame.get("since")),
            limit=200 if after else 50,
            overlap=True,
        )
        await self.send_json({"type": "history", **found})

    async def frame_message(self, frame):
        client_id, text = frame.get("client_id"), frame.get("text")
        if problem := client_id_problem(client_id):
            await self.send_json({"type": "error", "detail": problem})
            return
        limited = await database_sync_to_async(ratelimit.check)(
            "message", visitor_id=self.visitor.pk, ip=self.ip
        )
        if limited:
            await self.send_json(
                {
                    "type": "error",
                    "client_id": client_id,
                    "code": "rate_limited",
                    "retry_after": limited.retry_after,
                    "detail": limited.detail,
                }
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

    async def frame_typing(self, frame):
        """The visitor started or stopped typing (the widget sends at most one per 3 s)."""
        await database_sync_to_async(actions.signal_visitor_typing)(
            visitor_session=self.visitor, typing=frame.get("typing") is not False
        )

    async def frame_seen(self, frame):
        """The visitor has seen agent messages up to `up_to` (panel open, tab visible):
        they turn read (rate limited like the HTTP fallback; over it, dropped)."""
        up_to = frame.get("up_to")
        if isinstance(up_to, bool) or not isinstance(up_to, int):
            await self.send_json({"type": "error", "detail": "up_to must be a message id."})
            return
        limited = await database_sync_to_async(ratelimit.check)(
            "seen", visitor_id=self.visitor.pk, ip=self.ip
        )
        if not limited:
            await database_sync_to_async(actions.mark_read_by_visitor)(
                visitor_session=self.visitor, up_to=up_to
            )

    async def chat_event(self, event):
        # The visitor's own typing is for agents only; everything else reaches the widget.
        if event.get("event") == "typing" and event.get("sender_type") == "visitor":
            return
        await super().chat_event(event)


class AgentConsumer(ChatConsumer):
    """An agent's Conversation Center: /ws/agent/ with the Django session cookie.

    Frames (each answered with "ack" for messages and notes, "ok" otherwise, or "error"):
      message/note {conversation_id, client_id, text}   take/close/reopen {conversation_id}
      assign {conversation_id, agent_id|null}            priority {conversation_id, priority}
      typing {conversation_id, typing}                   read {conversation_id, up_to}
      status {status}                                    heartbeat {}
      label_add {conversation_id, label_id|name}         label_remove {conversation_id, label_id}
      snooze {conversation_id, until: ISO time|"reply"}  unsnooze {conversation_id}
      react {conversation_id, message_id, emoji}  (the same emoji again removes it)
    Every frame is checked against what the agent's role allows (wachat/agents/selectors.py);
    the socket joins only the groups of conversations the agent may see.
    """

    kind = "agent"

    async def connect(self):
        user = self.scope.get("user")
        self.agent = await _agent_for(user)
        if self.agent is None:
            await self.close(code=4403)
            return
        await self.accept()
        # Only the conversations this agent may see reach this socket (groups.for_agents).
        own = (
            [groups.supervisors()]
            if self.agent.user.is_staff
            else [groups.agent(self.agent.pk), groups.queue()]
        )
        await self.join(groups.agents(), *own)

    async def frame_message(self, frame):
        await self._post(frame, actions.send_agent_message)

    async def frame_note(self, frame):
        await self._post(frame, actions.add_note)

    async def frame_take(self, frame):
        await self._change(
            frame,
            lambda c: actions.assign_conversation(
                conversation=c, agent=self.agent, by=self.agent, only_if_unassigned=True
            ),
            allowed=lambda c: c.agent_id is None,
        )

    async def frame_assign(self, frame):
        target = await _agent_by_id(frame.get("agent_id"))
        if frame.get("agent_id") is not None and target is None:
            await self._error(frame, "Unknown agent.")
            return
        await self._change(
            frame,
            lambda c: actions.assign_conversation(conversation=c, agent=target, by=self.agent),
            allowed=lambda c: agent_access.can_assign(self.agent, c, target),
        )

    async def frame_close(self, frame):
        await self._change(
            frame, lambda c: actions.close_conversation(conversation=c, by=self.agent)
        )

    async def frame_reopen(self, frame):
        await self._change(
            frame,
            lambda c: actions.reopen_conversation(conversation=c, by=self.agent),
            # A closed conversation is reopened by its agent, or taken by whoever reopens an
            # unassigned one.
            allowed=lambda c: c.agent_id in (None, self.agent.pk),
        )

    async def frame_priority(self, frame):
        priority = frame.get("priority")
        await self._change(
            frame,
            lambda c: actions.set_priority(
                conversation=c,
                priority=priority if isinstance(priority, int) else -1,
                by=self.agent,
            ),
        )

    async def frame_typing(self, frame):
        conversation = await self._writable(frame)
        if conversation is not None:
            await database_sync_to_async(actions.signal_typing)(
                conversation=conversation, agent=self.agent, typing=frame.get("typing") is not False
            )

    async def frame_read(self, frame):
        up_to = frame.get("up_to")
        conversation = await _visible(self.agent, frame.get("conversation_id"))
        if conversation is None or not isinstance(up_to, int):
            await self._error(frame, "Unknown conversation.")
            return
        await database_sync_to_async(agent_actions.mark_read)(
            agent=self.agent, conversation=conversation, up_to=up_to
        )

    async def frame_status(self, frame):
        try:
            self.agent = await database_sync_to_async(actions.set_agent_status)(
                agent=self.agent, status=frame.get("status")
            )
        except actions.ActionRefused as exc:
            await self._error(frame, str(exc))
            return
        await self.send_json({"type": "ok", "frame": "status", "status": self.agent.status})

    async def frame_heartbeat(self, frame):
        # An agent put away automatically comes back online (agent.updated tells the page).
        changed = await database_sync_to_async(actions.record_agent_activity)(agent=self.agent)
        if changed is not None:
            self.agent = changed

    # Labels, snooze.
    async def frame_label_add(self, frame):
        label_id, name = frame.get("label_id"), frame.get("name")
        if label_id is None and not isinstance(name, str):
            await self._error(frame, "Give a label_id or a name.")
            return
        await self._change(
            frame,
            lambda c: actions.add_label(
                conversation=c, by=self.agent, label_id=label_id, name=name or ""
            ),
        )

    async def frame_label_remove(self, frame):
        await self._change(
            frame,
            lambda c: actions.remove_label(
                conversation=c, by=self.agent, label_id=frame.get("label_id")
            ),
        )

    async def frame_snooze(self, frame):
        """{"until": ISO datetime with offset, or "reply" (until the visitor writes)}."""
        raw = frame.get("until")
        try:
            until = parse_datetime(raw) if isinstance(raw, str) and raw != "reply" else None
        except ValueError:  # well formed but impossible, like month 13
            until = None
        if raw != "reply" and until is None:
            await self._error(frame, 'until must be a date and time, or "reply".')
            return
        await self._change(
            frame, lambda c: actions.snooze_conversation(conversation=c, by=self.agent, until=until)
        )

    async def frame_unsnooze(self, frame):
        await self._change(
            frame, lambda c: actions.unsnooze_conversation(conversation=c, by=self.agent)
        )

    # Reactions.
    async def frame_react(self, frame):
        """{conversation_id, message_id, emoji}: toggle this agent's reaction."""
        conversation = await self._writable(frame)
        if conversation is None:
            return
        message = await _message_in(conversation, frame.get("message_id"))
        if message is None:
            await self._error(frame, "Unknown message.")
            return
        try:
            message = await database_sync_to_async(actions.react_as_agent)(
                message=message, agent=self.agent, emoji=frame.get("emoji")
            )
        except actions.ActionRefused as exc:
            await self._error(frame, str(exc))
            return
        await self.send_json({"type": "ok", "frame": "react", "message": message_data(message)})

    async def _post(self, frame, action):
        client_id, text = frame.get("client_id"), frame.get("text")
        if problem := client_id_problem(client_id):
            await self._error(frame, problem)
            return
        conversation = await self._writable(frame)
        if conversation is None:
            return
        try:
            message, _ = await database_sync_to_async(action)(
                conversation=conversation,
                agent=self.agent,
                text=text if isinstance(text, str) else "",
                client_id=client_id,
            )
        except actions.InvalidMessage as exc:
            await self._error(frame, str(exc))
            return
        await self.send_json(
            {"type": "ack", "client_id": client_id, "message": message_data(message)}
        )

    async def _change(self, frame, action, allowed=None):
        conversation = await self._writable(frame, allowed)
        if conversation is None:
            return
        try:
            conversation = await database_sync_to_async(action)(conversation)
        except actions.ActionRefused as exc:
            await self._error(frame, str(exc))
            return
        await self.send_json(
            {"type": "ok", "frame": frame.get("type"), "conversation_id": str(conversation.pk)}
        )

    async def _writable(self, frame, allowed=None):
        """The frame's conversation if this agent may change it; else answers an error.

        Conversations the agent may not even see answer "Unknown conversation." like ids
        that do not exist, so probing reveals nothing."""
        conversation = await _visible(self.agent, frame.get("conversation_id"))
        if conversation is None:
            await self._error(frame, "Unknown conversation.")
            return None
        allowed = allowed or (lambda c: agent_access.can_write(self.agent, c))
        if not allowed(conversation):
            detail = (
                "Take this conversation first."
                if conversation.agent_id is None
                else "This conversation belongs to another agent."
            )
            await self._error(frame, detail)
            return None
        return conversation

    async def _error(self, frame, detail):
        await self.send_json(
            {
                "type": "error",
                "frame": frame.get("type"),
                "client_id": frame.get("client_id"),
                "detail": detail,
            }
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
def _visible(agent, conversation_id):
    return agent_access.visible_conversation(agent, conversation_id)


@database_sync_to_async
def _message_in(conversation, message_id):
    if isinstance(message_id, bool) or not isinstance(message_id, int):
        return None
    return Message.objects.filter(conversation=conversation, pk=message_id).first()


@database_sync_to_async
def _agent_by_id(agent_id):
    if not isinstance(agent_id, int):
        return None
    return ChatAgent.objects.select_related("user").filter(pk=agent_id).first()
