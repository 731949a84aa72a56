"""The seed's ChatAnalyticsPage: figures read from the database for a time window.

Business metrics (volume, response times, agent availability) and the same operational
figures the alert rules watch (ops/alerts.yml), each shown beside its threshold.
"""

from dataclasses import dataclass
from datetime import timedelta
from statistics import median

from django.db.models import Avg, Count, Min, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from wachat.conversations.models import ChatAgent, Conversation, Message
from wachat.whatsapp.models import MAX_PROCESSING_ATTEMPTS, WebhookEvent


@dataclass
class Check:
    name: str
    value: str
    threshold: str
    ok: bool


def report(*, days=14, now=None):
    now = now or timezone.now()
    since = now - timedelta(days=days)
    conversations = Conversation.objects.filter(created_at__gte=since)
    messages = Message.objects.filter(created_at__gte=since)
    return {
        "days": days,
        "conversations_per_day": list(
            conversations.annotate(day=TruncDate("created_at"))
            .values("day")
            .annotate(n=Count("pk"))
            .order_by("day")
        ),
        "conversations_by_source": dict(
            conversations.values_list("source").annotate(n=Count("pk")).values_list("source", "n")
        ),
        "conversations_by_status": dict(
            Conversation.objects.values_list("status")
            .annotate(n=Count("pk"))
            .values_list("status", "n")
        ),
        "messages_total": messages.count(),
        "first_response_median_seconds": first_response_median(conversations),
        "satisfaction": satisfaction(since),
        "agents_by_status": dict(
            ChatAgent.objects.values_list("status")
            .annotate(n=Count("pk"))
            .values_list("status", "n")
        ),
        "checks": checks(now),
    }


def satisfaction(since):
    """Visitors' ratings (1-5) given since `since`: {"average": float or None, "count": n}."""
    rated = Conversation.objects.filter(rated_at__gte=since, rating__isnull=False)
    figures = rated.aggregate(average=Avg("rating"), count=Count("pk"))
    return {"average": figures["average"], "count": figures["count"]}


def first_response_median(conversations, limit=5000):
    """Median time from a conversation's first visitor message to the first agent answer."""
    # The ids are fetched first: MariaDB cannot LIMIT inside an IN subquery.
    ids = list(conversations.values_list("pk", flat=True)[:limit])
    firsts = (
        Message.objects.filter(conversation__in=ids)
        .values("conversation_id", "sender_type")
        .annotate(first=Min("created_at"))
    )
    by_conversation = {}
    for row in firsts:
        by_conversation.setdefault(row["conversation_id"], {})[row["sender_type"]] = row["first"]
    waits = [
        (times["agent"] - times["visitor"]).total_seconds()
        for times in by_conversation.values()
        if "visitor" in times and "agent" in times and times["agent"] >= times["visitor"]
    ]
    return median(waits) if waits else None


def checks(now):
    """The seed's alert thresholds that the database can answer, evaluated now."""
    # Deliveries that finished: handed to WhatsApp (have a wamid) or failed.
    window = Message.objects.filter(created_at__gte=now - timedelta(minutes=10)).filter(
        Q(whatsapp_message_id__isnull=False) | Q(status=Message.Status.FAILED)
    )
    finished = window.count()
    failed = window.filter(status=Message.Status.FAILED).count()
    failure_rate = failed / finished if finished else 0.0

    waiting = WebhookEvent.objects.filter(processed=False, retry_count__lt=MAX_PROCESSING_ATTEMPTS)
    oldest = waiting.aggregate(oldest=Min("created_at"))["oldest"]
    lag = (now - oldest).total_seconds() if oldest else 0.0
    review = WebhookEvent.objects.filter(
        processed=False, retry_count__gte=MAX_PROCESSING_ATTEMPTS
    ).count()
    return [
        Check(
            "Message delivery failures (10 min)",
            f"{failure_rate:.1%} of {finished}",
            "≤ 2%",
            failure_rate <= 0.02,
        ),
        Check("Webhook processing delay", f"{lag:.0f} s", "≤ 30 s", lag <= 30),
        Check("Webhooks waiting for a replay", str(review), "0", review == 0),
    ]
