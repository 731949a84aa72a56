"""Reads for the Conversation Center, and who may see or change which conversation.

Supervisors (staff users) see and answer everything. Other agents see their own
conversations and the unassigned ones (the queue), and change only their own; they may
take an unassigned one.
"""

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, Q, Subquery

from wachat.agents.models import CannedResponse, ReadMarker
from wachat.conversations.models import ChatAgent, Conversation, Label, Message

PAGE = 50


def is_supervisor(agent):
    return agent.user.is_staff


def visible_conversations(agent):
    conversations = Conversation.objects.all()
    if not is_supervisor(agent):
        conversations = conversations.filter(Q(agent=agent) | Q(agent__isnull=True))
    return conversations


def visible_conversation(agent, conversation_id):
    """The conversation if `agent` may see it, else None (unknown and forbidden look alike)."""
    try:
        return (
            visible_conversations(agent)
            .select_related("agent__user", "visitor_session")
            .filter(pk=conversation_id)
            .first()
        )
    except (ValidationError, ValueError, TypeError):  # not a UUID
        return None


def can_write(agent, conversation):
    """Reply, note, close, reopen, transfer, set priority."""
    return is_supervisor(agent) or conversation.agent_id == agent.pk


def can_assign(agent, conversation, target):
    """Supervisors assign anyone; agents take unassigned ones and hand over their own."""
    if is_supervisor(agent):
        return True
    if conversation.agent_id is None:
        return target is not None and target.pk == agent.pk
    return conversation.agent_id == agent.pk


def inbox(agent, *, status="", scope="", source="", query="", label="", offset=0, limit=PAGE):
    """One page of conversations, newest activity first, with unread counts for `agent`.

    Snoozed conversations show only under status "snoozed" (open ones) or "closed"."""
    conversations = visible_conversations(agent)
    if status == "snoozed":
        conversations = conversations.filter(snoozed_until__isnull=False).exclude(
            status=Conversation.Status.CLOSED
        )
    elif status != Conversation.Status.CLOSED:
        conversations = conversations.filter(snoozed_until__isnull=True)
    if label.isdigit():
        conversations = conversations.filter(labels=int(label))
    if status == "open":
        conversations = conversations.exclude(status=Conversation.Status.CLOSED)
    elif status in Conversation.Status.values:
        conversations = conversations.filter(status=status)
    if scope == "mine":
        conversations = conversations.filter(agent=agent)
    elif scope == "unassigned":
        conversations = conversations.filter(agent__isnull=True)
    if source in Conversation.Source.values:
        conversations = conversations.filter(source=source)
    query = query.strip()
    if query:
        matching_text = Message.objects.filter(
            conversation=OuterRef("pk"), content__icontains=query
        ).exclude(sender_type=Message.SenderType.SYSTEM)
        code = query.lstrip("#")
        by_code = (
            Q(pk__istartswith=code.lower())
            if len(code) == 6 and all(ch in "0123456789abcdefABCDEF" for ch in code)
            else Q(pk__in=[])
        )
        conversations = conversations.filter(
            by_code
            | Q(metadata__visitor_name__icontains=query)
            | Q(visitor_session__metadata__name__icontains=query)
            | Q(visitor_phone_number__icontains=query)
            | Q(visitor_session__metadata__phone__icontains=query)
            | Exists(matching_text)
        )
    last_message = (
        Message.objects.filter(conversation=OuterRef("pk"))
        .exclude(sender_type=Message.SenderType.SYSTEM)
        .order_by("-pk")
        .values("pk")[:1]
    )
    page = list(
        conversations.annotate(last_message_id=Subquery(last_message))
        .select_related("agent__user", "visitor_session")
        .prefetch_related("labels")
        .order_by("-updated_at", "-pk")[offset : offset + limit]
    )
    unread = unread_counts(agent, page)
    for conversation in page:
        conversation.unread = unread.get(conversation.pk, 0)
    return page


def previews(conversations):
    """{conversation id: its last message in one line} for inbox rows (from inbox())."""
    last = Message.objects.filter(pk__in=[c.last_message_id for c in conversations])
    return {
        message.conversation_id: message.preview
        for message in last.only("conversation_id", "content", "message_type", "metadata")
    }


def unread_counts(agent, conversations):
    """{conversation id: visitor messages after the last one `agent` read}, in two queries."""
    if not conversations:
        return {}
    read_up_to = dict(
        ReadMarker.objects.filter(agent=agent, conversation__in=conversations).values_list(
            "conversation_id", "last_read_message_id"
        )
    )
    after_marker = Q()
    for conversation in conversations:
        after_marker |= Q(conversation=conversation, pk__gt=read_up_to.get(conversation.pk, 0))
    rows = (
        Message.objects.filter(after_marker, sender_type=Message.SenderType.VISITOR)
        .values("conversation_id")
        .annotate(count=Count("pk"))
    )
    return {row["conversation_id"]: row["count"] for row in rows}


def history(conversation, *, before=0, after=0, limit=PAGE):
    """Messages oldest first: the latest page, the page before the id `before` (scrolling
    up), or everything after the id `after` (catching up after a reconnect)."""
    messages = Message.objects.filter(conversation=conversation)
    if after:
        return list(messages.filter(pk__gt=after).order_by("pk")[:200])
    if before:
        messages = messages.filter(pk__lt=before)
    return list(reversed(messages.order_by("-pk")[:limit]))


def last_message_id(conversation):
    return (
        Message.objects.filter(conversation=conversation)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
        or 0
    )


def open_conversation_count(agent):
    """How many open conversations `agent` holds, snoozed ones too: what going offline
    sends back to the queue (conversations.actions.set_agent_status)."""
    return Conversation.objects.filter(
        agent=agent, status__in=[Conversation.Status.ACTIVE, Conversation.Status.WAITING]
    ).count()


def agents_for_transfer():
    return list(ChatAgent.objects.select_related("user").order_by("user__first_name", "pk"))


def labels():
    return list(Label.objects.values("id", "name", "color"))


def canned_responses():
    return list(CannedResponse.objects.values("shortcut", "text"))
