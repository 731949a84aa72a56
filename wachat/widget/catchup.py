"""What a visitor's widget missed while it was not listening: new messages, changes to the
ones it already shows (ticks, reactions, failures) and the conversation's state (closed,
assigned). The long-poll (api.poll) and the WebSocket resume
(WidgetConsumer.frame_resume) answer with this same read, so neither path loses a change
made between two answers, nor a change of whether live chat is on."""

from datetime import datetime, timedelta

from django.utils import timezone

from wachat.conversations import selectors
from wachat.conversations.events import conversation_data, message_data
from wachat.widget.config import availability

# With `overlap`, a cursor looks back this far, so a change saved just before the previous
# answer (or event) but committed just after it still arrives.
OVERLAP = timedelta(seconds=5)


def parse_cursor(since):
    """The cursor a client sent back (ISO 8601 with an offset), or None if it is not one."""
    if not isinstance(since, str):
        return None
    try:
        # A "+" in a query string that was not encoded arrives as a space.
        cursor = datetime.fromisoformat(since.strip().replace(" ", "+"))
    except ValueError:
        return None
    return cursor if cursor.tzinfo else None


def catch_up(visitor_session_id, *, after, since, limit=200, overlap=False):
    """New messages after the id `after` (the latest `limit` when `after` is 0); with a
    cursor `since`, the messages up to `after` that changed after it; the visitor's latest
    conversation; whether live chat is on (`offline`, as in the widget's config: a change
    of it broadcast while the widget was not listening is not lost); and the next cursor.
    JSON-ready."""
    messages = selectors.visitor_messages(visitor_session_id, after=after, limit=limit)
    updates = []
    if since is not None and after:
        updates = selectors.visitor_message_updates(
            visitor_session_id,
            after=after,
            since=since - OVERLAP if overlap else since,
            limit=limit,
        )
    conversation = selectors.visitor_conversation(visitor_session_id)
    if len(updates) == limit:
        cursor = updates[-1].updated_at  # more changes wait: the next answer starts here
    else:
        changes = [m.updated_at for m in [*messages, *updates]]
        cursor = max([since or timezone.now() - OVERLAP, *changes])
    return {
        "messages": [message_data(m) for m in messages],
        "updates": [message_data(m) for m in updates],
        "conversation": conversation and conversation_data(conversation),
        "offline": availability()["offline"],
        "cursor": cursor.isoformat(),
    }
