"""The events actions publish. Each carries the message id so a client that reconnects can
ask for everything after the last id it saw.

Agent-side events go to the conversation's agent (and the previous one on a transfer), to
the queue when it is unassigned, and to supervisors (groups.for_agents). The visitor
gets conversation-level events and the messages meant for them; private messages (agents'
notes, assignment records) never go to the visitor's stream.
"""

from wachat.realtime import groups
from wachat.realtime.publish import publish_on_commit, send_each


def is_private(message):
    """Notes and assignment records: for agents only, never shown to the visitor."""
    return bool((message.metadata or {}).get("private"))


def message_data(message):
    return {
        "id": message.pk,
        "conversation_id": str(message.conversation_id),
        "client_id": message.client_id,
        "direction": message.direction,
        "sender_type": message.sender_type,
        "sender_name": (message.metadata or {}).get("sender_name", ""),
        "message_type": message.message_type,
        "content": message.content,
        "preview": message.preview,  # one line: the text, or "📷 Photo" / "📄 <filename>"
        "media_url": message.media_url,
        "attachment": attachment_data(message),
        "status": message.status,
        "error": (message.metadata or {}).get("error"),
        "reactions": (message.metadata or {}).get("reactions", {}),
        "private": is_private(message),
        "created_at": message.created_at.isoformat(),
        # The widget sends the newest it saw back as its resume cursor (widget/catchup.py).
        "updated_at": message.updated_at.isoformat(),
    }


def attachment_data(message):
    """What a bubble needs to show a file (None: the message has none)."""
    if not message.media_url:
        return None
    details = message.metadata or {}
    return {
        "filename": details.get("filename") or "",
        "size": details.get("size"),
        "mime_type": details.get("mime_type") or "",
    }


def conversation_data(conversation):
    return {
        "id": str(conversation.pk),
        "code": conversation.code,
        "status": conversation.status,
        "source": conversation.source,
        "visitor_name": conversation.visitor_name,
        "agent_id": conversation.agent_id,
        "agent_name": conversation.agent.name if conversation.agent_id else None,
        "updated_at": conversation.updated_at.isoformat(),
        "rated": conversation.rating is not None,
        # Left with the widget's offline form: the widget shows no place in the queue.
        "offline": bool((conversation.metadata or {}).get("offline")),
    }


def message_created(message):
    _publish_message("message.created", message)


def message_updated(message):
    _publish_message("message.updated", message)


def agent_conversation_data(conversation):
    """conversation_data plus what only agents see (priority, visitor phone, metadata)."""
    return {
        **conversation_data(conversation),
        "priority": conversation.priority,
        "visitor_phone_number": conversation.visitor_phone_number,
        "visitor_session_id": conversation.visitor_session_id,
        "created_at": conversation.created_at.isoformat(),
        # Labels, snooze (the Center's inbox filters and chips).
        "labels": [
            {"id": label.pk, "name": label.name, "color": label.color}
            for label in conversation.labels.all()
        ],
        "snoozed_until": conversation.snoozed_until and conversation.snoozed_until.isoformat(),
        # The visitor's satisfaction rating, once they gave it.
        "rating": conversation.rating,
        "rating_comment": conversation.rating_comment,
        "rated_at": conversation.rated_at and conversation.rated_at.isoformat(),
    }


UNCHANGED = object()


def conversation_updated(conversation, *, previous_agent_id=UNCHANGED):
    """`previous_agent_id` (None: it was unassigned) after an assignment, so whoever held
    the conversation, or the queue, hears that it left."""
    agent_ids = [conversation.agent_id]
    if previous_agent_id is not UNCHANGED and previous_agent_id != conversation.agent_id:
        agent_ids.append(previous_agent_id)
    publish_on_commit(
        groups.for_agents(agent_ids),
        {"event": "conversation.updated", "conversation": agent_conversation_data(conversation)},
    )
    if conversation.visitor_session_id:
        publish_on_commit(
            [groups.visitor(conversation.visitor_session_id)],
            {"event": "conversation.updated", "conversation": conversation_data(conversation)},
        )
    if conversation.agent_id is None or previous_agent_id is None:
        # In the queue, or just left it. Joining at the end (or changing while waiting)
        # moves nobody else; leaving, or coming back to it, moves those behind.
        waits = conversation.status == conversation.Status.WAITING and conversation.agent_id is None
        queue_moved(only=conversation if waits and previous_agent_id is UNCHANGED else None)


def agent_updated(agent):
    """An agent's presence changed (all agents see who is online; visitors see whether
    live chat is on)."""
    from django.db import transaction

    transaction.on_commit(announce_availability)
    publish_on_commit(
        [groups.agents()],
        {
            "event": "agent.updated",
            "agent": {
                "id": agent.pk,
                "name": agent.name,
                "status": agent.status,
                "last_activity_at": agent.last_activity_at and agent.last_activity_at.isoformat(),
            },
        },
    )


AVAILABILITY_KEY = "wachat:availability:offline"  # the last one announced


def announce_availability():
    """Tell every open widget when live chat comes or goes (an agent's presence changed,
    business hours opened or closed), so its header and form follow without a reload.

    Sent only when it changed since the last announcement (kept in the cache, which is
    shared: one process without Redis, Redis with it). Two announcements racing can leave
    a stale one last; the minute check (agents.tasks) sends the truth again, and a widget
    that reconnects reads it from its catch-up."""
    from django.core.cache import cache

    from wachat.widget.config import availability

    offline = availability()["offline"]
    if cache.get(AVAILABILITY_KEY) == offline:
        return
    cache.set(AVAILABILITY_KEY, offline, timeout=None)
    send_each(
        [([groups.visitors()], {"type": "chat.event", "event": "availability", "offline": offline})]
    )


def typing(conversation, *, sender_type, typing):
    """Someone is typing in `conversation`; sent at once, nothing is stored."""
    event = {
        "event": "typing",
        "conversation_id": str(conversation.pk),
        "sender_type": sender_type,
        "typing": typing,
    }
    publish_on_commit(groups.for_agents([conversation.agent_id]), event)
    if conversation.visitor_session_id:
        publish_on_commit([groups.visitor(conversation.visitor_session_id)], event)


def _publish_message(name, message):
    conversation = message.conversation
    data = message_data(message)
    publish_on_commit(groups.for_agents([conversation.agent_id]), {"event": name, "message": data})
    if conversation.visitor_session_id and not is_private(message):
        publish_on_commit(
            [groups.visitor(conversation.visitor_session_id)], {"event": name, "message": data}
        )


def queue_moved(only=None):
    """The queue changed: after commit, visitors waiting in it hear their place and
    estimated wait (queue.updated). `only`: the one conversation whose place may have
    changed (it joined at the end, or changed while waiting); None: everyone's may have.
    Sent once per transaction, however many conversations moved, in one hop."""
    from django.db import transaction

    connection = transaction.get_connection()
    # Django keeps pending callbacks as (savepoint ids, callable, robust) tuples; a
    # rolled-back transaction drops ours, and the next one starts afresh.
    scheduled = any(entry[1] is _send_queue_places for entry in connection.run_on_commit)
    if not scheduled:
        connection.wachat_queue_moved = {"everyone": False, "only": set()}
    pending = connection.wachat_queue_moved
    if only is None:
        pending["everyone"] = True
    else:
        pending["only"].add(only.pk)
    if not scheduled:
        transaction.on_commit(_send_queue_places)  # at once outside a transaction


def _send_queue_places():
    from django.db import transaction

    from wachat.conversations import selectors

    connection = transaction.get_connection()
    pending = connection.__dict__.pop("wachat_queue_moved", None) or {"everyone": True}
    queue = [(n, *entry) for n, entry in enumerate(selectors.waiting_queue(), 1)]
    if not pending["everyone"]:
        queue = [entry for entry in queue if entry[1] in pending["only"]]
    if not queue:
        return
    average = selectors.average_queue_wait()
    send_each(
        [
            (
                [groups.visitor(session_id)],
                {
                    "type": "chat.event",
                    "event": "queue.updated",
                    "conversation_id": str(conversation_id),
                    "wait": selectors.wait_estimate(place, average),
                },
            )
            for place, conversation_id, session_id in queue
            if session_id
        ]
    )
