"""Reads shared by the widget, the Conversation Center and the consumers."""

from wachat.conversations.models import Conversation, Message


def visitor_messages(visitor_session_id, *, after=0, limit=50):
    """Messages the visitor sees, oldest first: all after `after`, or the latest `limit`."""
    messages = Message.objects.filter(conversation__visitor_session_id=visitor_session_id)
    if after:
        return list(messages.filter(pk__gt=after).order_by("pk")[:limit])
    return list(reversed(messages.order_by("-pk")[:limit]))


def conversation_messages(conversation_id, *, after=0, limit=50):
    messages = Message.objects.filter(conversation_id=conversation_id)
    if after:
        return list(messages.filter(pk__gt=after).order_by("pk")[:limit])
    return list(reversed(messages.order_by("-pk")[:limit]))


def inbox(*, limit=100):
    return list(
        Conversation.objects.select_related("agent__user", "visitor_session").order_by(
            "-updated_at"
        )[:limit]
    )
