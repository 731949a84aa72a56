"""Reads shared by the widget, the Conversation Center and the consumers."""

from datetime import timedelta

from django.core.cache import cache
from django.db.models import Min, Q
from django.utils import timezone

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


def visitor_unread_agent_messages(visitor_session_id, *, up_to, limit=100):
    """The newest `limit` agent messages the visitor can see with ids up to `up_to`, not
    yet read (failed ones stay failed)."""
    return (
        _seen_by_visitor(visitor_session_id)
        .filter(sender_type=Message.SenderType.AGENT, pk__lte=up_to)
        .exclude(status__in=[Message.Status.READ, Message.Status.FAILED])
        .order_by("-pk")[:limit]
    )


def visitor_message_updates(visitor_session_id, *, after, since, limit=200):
    """Messages the visitor already has (ids up to `after`) that changed after `since`
    (status, reactions, media), oldest change first: what a long-poll client missed."""
    return list(
        _seen_by_visitor(visitor_session_id)
        .filter(pk__lte=after, updated_at__gt=since)
        .order_by("updated_at", "pk")[:limit]
    )


# --- Queue: a waiting visitor's place and estimated wait -----------------------------------

WAIT_SAMPLE = 20  # conversations that waited, most recently assigned first
WAIT_WINDOW = timedelta(days=2)
WAIT_CACHE_KEY = "wachat:average-queue-wait"


def waiting_queue(limit=200):
    """(conversation id, visitor session id) of the queue, in the order routing serves it."""
    return list(
        Conversation.objects.filter(status=Conversation.Status.WAITING, agent__isnull=True)
        .order_by("created_at", "pk")
        .values_list("pk", "visitor_session_id")[:limit]
    )


def average_queue_wait():
    """Seconds from a conversation's start to its first assignment, averaged over the last
    WAIT_SAMPLE conversations that really waited (not assigned on arrival) in WAIT_WINDOW;
    None without such history. Cached for a minute: it is read on every queue move."""
    cached = cache.get(WAIT_CACHE_KEY)
    if cached is None:
        cached = _measure_queue_wait()
        cache.set(WAIT_CACHE_KEY, cached, timeout=60)
    return cached if cached >= 0 else None


def _measure_queue_wait():
    assignment = Q(messages__sender_type=Message.SenderType.SYSTEM) & Q(
        messages__metadata__has_key="agent_id"
    )
    rows = (
        Conversation.objects.filter(created_at__gte=timezone.now() - WAIT_WINDOW)
        .annotate(first_assigned=Min("messages__created_at", filter=assignment))
        .filter(first_assigned__isnull=False)
        .order_by("-first_assigned")
        .values_list("created_at", "first_assigned")[: WAIT_SAMPLE * 5]
    )
    # Under 2 seconds: assigned when it arrived, never in the queue.
    waits = [(assigned - created).total_seconds() for created, assigned in rows]
    waits = [wait for wait in waits if wait >= 2][:WAIT_SAMPLE]
    return sum(waits) / len(waits) if waits else -1


def wait_estimate(position, average=None):
    """{"position": n, "minutes": m} for the n-th (1-based) conversation in the queue:
    `m` is the average wait times the position, rounded (whole minutes under 10, fives
    under an hour, then 60: "more than an hour"), or None when there is no history."""
    average = average_queue_wait() if average is None else average
    if average is None:
        return {"position": position, "minutes": None}
    minutes = average * position / 60
    if minutes < 10:
        minutes = max(1, round(minutes))
    else:
        minutes = min(60, 5 * round(minutes / 5))
    return {"position": position, "minutes": minutes}


def queue_wait(conversation):
    """wait_estimate for `conversation` if it waits in the queue, else None."""
    if conversation.status != Conversation.Status.WAITING or conversation.agent_id is not None:
        return None
    ahead = Conversation.objects.filter(
        Q(created_at__lt=conversation.created_at)
        | Q(created_at=conversation.created_at, pk__lt=conversation.pk),
        status=Conversation.Status.WAITING,
        agent__isnull=True,
    ).count()
    return wait_estimate(ahead + 1)
