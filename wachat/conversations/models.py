"""The seed's tables: conversations, messages, chat_agents, visitor_sessions.

Table names, columns, enum values, defaults and indexes follow the seed. Additions the
invariants need are marked "(added)".
"""

import uuid

from django.conf import settings
from django.db import models


class VisitorSession(models.Model):
    """A browser that loaded the widget; its id lives in the visitor's localStorage."""

    id = models.CharField(max_length=255, primary_key=True)
    ip_address = models.CharField(max_length=45, blank=True, default="")
    user_agent = models.TextField(blank=True, default="")
    referrer = models.CharField(max_length=500, null=True, blank=True)
    utm_source = models.CharField(max_length=100, null=True, blank=True)
    utm_medium = models.CharField(max_length=100, null=True, blank=True)
    utm_campaign = models.CharField(max_length=100, null=True, blank=True)
    first_visit_at = models.DateTimeField()
    last_activity_at = models.DateTimeField()
    page_views = models.IntegerField(default=1)
    metadata = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "visitor_sessions"

    def __str__(self):
        return self.id

    @property
    def display_name(self):
        return (self.metadata or {}).get("name") or f"Visitor {self.id[:6]}"


class ChatAgent(models.Model):
    class Status(models.TextChoices):
        ONLINE = "online"
        AWAY = "away"
        OFFLINE = "offline"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_agent"
    )
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.OFFLINE)
    max_concurrent_chats = models.PositiveSmallIntegerField(default=5)
    auto_assign = models.BooleanField(default=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    # (added) The agent's own WhatsApp number, for answering visitors from WhatsApp (relay).
    whatsapp_phone_number = models.CharField(max_length=20, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "chat_agents"

    def __str__(self):
        return self.name

    @property
    def name(self):
        return self.user.get_full_name() or self.user.get_username()


class Label(models.Model):
    """A tag agents put on conversations ("billing", "vip") and filter the inbox by."""

    name = models.CharField(max_length=50, unique=True)
    color = models.CharField(max_length=7, default="#64748b")  # "#rrggbb"
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "labels"
        ordering = ["name"]

    def __str__(self):
        return self.name


class Conversation(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        WAITING = "waiting"
        CLOSED = "closed"

    class Source(models.TextChoices):
        WIDGET = "widget"
        WHATSAPP = "whatsapp"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    visitor_session = models.ForeignKey(
        VisitorSession,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
        db_index=False,  # the seed's named index below
    )
    # The business number this conversation runs through.
    whatsapp_phone_number = models.CharField(max_length=20, blank=True, default="")
    # The customer's own number: set for conversations that started on WhatsApp.
    visitor_phone_number = models.CharField(max_length=20, null=True, blank=True)
    agent = models.ForeignKey(
        ChatAgent,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
        db_index=False,
    )
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.ACTIVE)
    priority = models.PositiveSmallIntegerField(default=1)
    source = models.CharField(max_length=100, null=True, blank=True, choices=Source.choices)
    metadata = models.JSONField(null=True, blank=True)
    labels = models.ManyToManyField(Label, blank=True, related_name="conversations")
    # Out of the inbox until this time or the visitor's next message, whichever comes first.
    snoozed_until = models.DateTimeField(null=True, blank=True)
    # The visitor's satisfaction rating, given once the conversation is closed.
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    rating_comment = models.TextField(blank=True, default="")
    rated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "conversations"
        indexes = [
            models.Index(fields=["status"], name="conversations_status_idx"),
            models.Index(fields=["agent"], name="conversations_agent_idx"),
            models.Index(fields=["visitor_session"], name="conversations_visitor_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True) | models.Q(rating__gte=1, rating__lte=5),
                name="conversations_rating_1_to_5",
            ),
        ]

    def __str__(self):
        return f"{self.code} {self.visitor_name}"

    @property
    def code(self):
        """Short code agents see on relayed messages and can type to address a reply."""
        return self.id.hex[:6].upper()

    @property
    def visitor_name(self):
        name = (self.metadata or {}).get("visitor_name")
        if name:
            return name
        if self.visitor_session_id:
            return self.visitor_session.display_name
        return self.visitor_phone_number or "Visitor"

    @property
    def is_open(self):
        return self.status != self.Status.CLOSED


CLIENT_ID_MAX_LENGTH = 64


def client_id_problem(client_id):
    """Why `client_id` cannot name a message sent from a browser (None when it can).
    Every entry point (widget API, WebSockets, the Center's uploads) asks this one rule."""
    if not isinstance(client_id, str) or not 0 < len(client_id) <= CLIENT_ID_MAX_LENGTH:
        return f"client_id must be 1 to {CLIENT_ID_MAX_LENGTH} characters."
    return None


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "inbound"
        OUTBOUND = "outbound"

    class SenderType(models.TextChoices):
        VISITOR = "visitor"
        AGENT = "agent"
        SYSTEM = "system"

    class Type(models.TextChoices):
        TEXT = "text"
        IMAGE = "image"
        DOCUMENT = "document"
        TEMPLATE = "template"

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        DELIVERED = "delivered"
        READ = "read"
        FAILED = "failed"

    # Status only moves forward; failed is terminal (ARCHITECTURE invariant 2).
    STATUS_RANK = {"pending": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    # (added: unique) The wamid of this message's WhatsApp copy. NULLs do not collide on
    # SQLite, PostgreSQL or MariaDB, so the unique index also serves as the seed's index.
    whatsapp_message_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    sender_type = models.CharField(max_length=7, choices=SenderType.choices)
    sender_id = models.BigIntegerField(null=True, blank=True)  # ChatAgent id for agents
    message_type = models.CharField(max_length=8, choices=Type.choices, default=Type.TEXT)
    content = models.TextField(blank=True, default="")
    media_url = models.CharField(max_length=500, null=True, blank=True)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.PENDING)
    metadata = models.JSONField(null=True, blank=True)
    # (added) Id the widget or Conversation Center gave the message when it was typed, so
    # a retried send finds the first row instead of creating a second.
    client_id = models.CharField(max_length=CLIENT_ID_MAX_LENGTH, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "messages"
        indexes = [
            models.Index(fields=["conversation"], name="messages_conversation_idx"),
            models.Index(fields=["status"], name="messages_status_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "client_id"], name="messages_unique_client_id"
            ),
        ]

    def __str__(self):
        return f"{self.sender_type}: {self.content[:40]}"

    def can_move_to(self, status):
        return self.STATUS_RANK[status] > self.STATUS_RANK[self.status]

    @property
    def preview(self):
        """One line for inbox rows, notifications and relayed copies: the text, or what
        is attached when there is no caption."""
        if self.content:
            return self.content
        if self.message_type == self.Type.IMAGE:
            return "📷 Photo"
        if self.message_type == self.Type.DOCUMENT:
            return "📄 " + ((self.metadata or {}).get("filename") or "Document")
        return ""

    @property
    def awaits_media(self):
        """A file that came over WhatsApp and is not stored yet (fetch_media): the message
        goes on to the transports once it is, or once fetching it has failed."""
        details = self.metadata or {}
        if self.media_url or details.get("media_error"):
            return False
        return bool(details.get("media_id"))
