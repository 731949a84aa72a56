"""The events actions publish. Each carries the message id so a client that reconnects can
ask for everything after the last id it saw.

Agent-side events go to the conversation's agent (and the previous one on a transfer), to
the queue when it is unassigned, and to supervisors (groups.for_agents). The visitor
gets conversation-level events and the messages meant for them; private messages (agents'
notes, assignment records) never go to the visitor's stream.
"""

from wachat.realtime import groups
from wachat.realtime.publish import publish_on_commit, send_now


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
        "media_url": message.media_url,
        "status": message.status,
        "error": (message.metadata or {}).get("error"),
        "reactions": (message.metadata or {}).get("reactions", {}),
        "private": is_private(message),
        "created_at": message.created_at.isoformat(),
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


def agent_updated(agent):
    """An agent's presence changed (all agents see who is online)."""
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
