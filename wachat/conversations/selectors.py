"""Reads shared by the widget, the Conversation Center and the consumers."""

from django.db.models import Q

from wachat.conversations.models import Conversation, Message


def _seen_by_visitor(visitor_session_id):
    """Every message of the visitor's conversations except private ones (agents' notes,
    assignment records): the one place visitor-facing reads start from."""
    # Not `.exclude(metadata__private=True)`: on SQLite a missing key compares as NULL and
    # NOT NULL drops the row, which hid every message without a "private" key.
    public = Q(metadata__isnull=True) | ~Q(metadata__has_key="private") | Q(metadata__private=False)
    return Message.objects.filter(conversation__visitor_session_id=visitor_session_id).filter(
        public
    )


def visitor_messages(visitor_session_id, *, after=0, limit=50):
    """Messages the visitor sees, oldest first: all after `after`, or the latest `limit`."""
    messages = _seen_by_visitor(visitor_session_id)
    if after:
        return list(messages.filter(pk__gt=after).order_by("pk")[:limit])
    return list(reversed(messages.order_by("-pk")[:limit]))


def conversation_messages(conversation_id, *, after=0, limit=50):
    messages = Message.objects.filter(conversation_id=conversation_id)
    if after:
        return list(messages.filter(pk__gt=after).order_by("pk")[:limit])
    return list(reversed(messages.order_by("-pk")[:limit]))


def visitor_messages_before(visitor_session_id, *, before, limit=50):
    """The `limit` messages just older than the id `before`, oldest first (scrolling up)."""
    messages = _seen_by_visitor(visitor_session_id).filter(pk__lt=before)
    return list(reversed(messages.order_by("-pk")[:limit]))


def visitor_conversation(visitor_session_id):
    """The visitor's latest widget conversation (open or closed), or None."""
    return (
        Conversation.objects.select_related("agent__user")
        .filter(visitor_session_id=visitor_session_id)
        .order_by("-created_at")
        .first()
    )


def visitor_messages_by_id(visitor_session_id, ids):
    """The visitor's own view of the messages `ids` (a queryset; others' ids match nothing)."""
    return _seen_by_visitor(visitor_session_id).filter(pk__in=ids)
