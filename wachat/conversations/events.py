"""The events actions publish. Each carries the message id so a client that reconnects can
ask for everything after the last id it saw."""

from wachat.realtime import groups
from wachat.realtime.publish import publish_on_commit


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


def conversation_updated(conversation):
    publish_on_commit(
        groups.for_conversation(conversation),
        {"event": "conversation.updated", "conversation": conversation_data(conversation)},
    )


def _publish_message(name, message):
    publish_on_commit(
        groups.for_conversation(message.conversation),
        {"event": name, "message": message_data(message)},
    )
