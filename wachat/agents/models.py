"""State the Conversation Center and the WhatsApp relay keep about agents."""

from django.db import models

from wachat.conversations.models import ChatAgent, Conversation, Message


class CannedResponse(models.Model):
    """A saved answer agents insert by typing `/shortcut` in the reply box."""

    shortcut = models.SlugField(max_length=32, unique=True)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "canned_responses"
        ordering = ["shortcut"]

    def __str__(self):
        return f"/{self.shortcut}"


class ReadMarker(models.Model):
    """The last message an agent has seen in a conversation: unread counts start after it."""

    agent = models.ForeignKey(ChatAgent, on_delete=models.CASCADE, related_name="read_markers")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="read_markers"
    )
    last_read_message_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "agent_read_markers"
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "conversation"], name="agent_read_markers_unique"
            )
        ]

    def __str__(self):
        return f"{self.agent} read {self.conversation_id} up to {self.last_read_message_id}"


class AgentPhoneMessage(models.Model):
    """A WhatsApp message between the business number and an agent's own phone.

    To the agent: a relayed copy of a customer's message, or the answer to a command the
    agent typed ("/list"). From the agent: a reply or command they sent, kept by its wamid
    so a webhook delivered twice is handled once, whichever conversation it matched.

    Message.whatsapp_message_id holds the one wamid that *is* that message (the customer's
    own WhatsApp message, or for widget visitors the relayed copy the bridge sends). A
    customer's WhatsApp message relayed to an agent is a second WhatsApp message with its
    own wamid, so it gets its own row here; replies quoting it (context id) and Meta's
    status updates for it find it by that wamid.
    """

    class Direction(models.TextChoices):
        TO_AGENT = "to_agent"
        FROM_AGENT = "from_agent"

    class Status(models.TextChoices):
        RECEIVED = "received"  # from the agent
        PENDING = "pending"
        QUEUED = "queued"  # the agent's 24-hour window is closed: sent after they write
        SENT = "sent"
        DELIVERED = "delivered"
        READ = "read"
        FAILED = "failed"

    RANK = {
        "received": 0,
        "pending": 0,
        "queued": 0,
        "sent": 1,
        "delivered": 2,
        "read": 3,
        "failed": 4,
    }

    agent = models.ForeignKey(ChatAgent, on_delete=models.CASCADE, related_name="phone_messages")
    direction = models.CharField(
        max_length=10, choices=Direction.choices, default=Direction.TO_AGENT
    )
    # The conversation message relayed, or the agent's reply it became (null for commands).
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="relayed_copies"
    )
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    wamid = models.CharField(max_length=255, null=True, blank=True, unique=True)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.PENDING)
    error = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "agent_phone_messages"
        constraints = [
            models.UniqueConstraint(fields=["message", "agent"], name="agent_phone_messages_once")
        ]
        indexes = [models.Index(fields=["agent", "status"], name="agent_phone_messages_status")]

    def __str__(self):
        return f"{self.direction} {self.agent}: {self.body[:40]}"

    def can_move_to(self, status):
        return self.RANK[status] > self.RANK[self.status]
