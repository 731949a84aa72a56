"""webhook_events: every signed webhook Meta sends, stored before we answer 200."""

from django.db import models
from django.utils import timezone

MAX_PROCESSING_ATTEMPTS = 5


class WebhookEvent(models.Model):
    class Review(models.TextChoices):
        NONE = ""
        MALFORMED = "malformed"

    event_type = models.CharField(max_length=50, blank=True, default="")
    payload = models.JSONField(null=True, blank=True)
    signature = models.CharField(max_length=255, blank=True, default="")
    processed = models.BooleanField(default=False)
    processed_at = models.DateTimeField(null=True, blank=True)
    error_message = models.TextField(null=True, blank=True)
    retry_count = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # (added) The body as received when it was not valid JSON: kept for manual review.
    raw_body = models.TextField(null=True, blank=True)

    class Meta:
        db_table = "webhook_events"
        indexes = [
            models.Index(fields=["processed"], name="webhook_events_processed_idx"),
            models.Index(fields=["event_type"], name="webhook_events_type_idx"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.event_type}"

    @property
    def needs_review(self):
        """Failed every attempt (or was malformed): waits in the log for a replay."""
        return not self.processed and self.retry_count >= MAX_PROCESSING_ATTEMPTS

    def mark_processed(self):
        self.processed = True
        self.processed_at = timezone.now()
        self.error_message = None
        self.save(update_fields=["processed", "processed_at", "error_message"])

    def mark_failed(self, error, *, final=False):
        """Record one failed attempt; `final` sends it straight to manual review."""
        self.retry_count = MAX_PROCESSING_ATTEMPTS if final else self.retry_count + 1
        self.error_message = str(error)[:2000]
        self.save(update_fields=["retry_count", "error_message"])

    def reset_for_replay(self):
        """Give a stored event a fresh set of attempts (admin action, replay_webhooks)."""
        self.processed = False
        self.processed_at = None
        self.retry_count = 0
        self.error_message = None
        self.save(update_fields=["processed", "processed_at", "retry_count", "error_message"])


class CircuitBreakerState(models.Model):
    """The Graph API connection as every web and worker process sees it: one row per name.

    closed: calls go through. open: the API failed `threshold` times in a row; calls wait
    (messages stay pending) until the cool-down ends. half_open: one process probes; its
    success closes the breaker, its failure opens it again. Separately, a token error (190)
    marks the connection broken until the credentials in the settings change.
    """

    class State(models.TextChoices):
        CLOSED = "closed"
        OPEN = "open"
        HALF_OPEN = "half_open"

    name = models.CharField(max_length=50, unique=True)
    state = models.CharField(max_length=9, choices=State.choices, default=State.CLOSED)
    consecutive_failures = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)  # or: when the probe started
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    # Token broken (Graph error 190) for the credentials with this fingerprint; empty: fine.
    broken_credentials = models.CharField(max_length=64, blank=True, default="")
    broken_reason = models.TextField(blank=True, default="")
    broken_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "whatsapp_circuit_breakers"
        verbose_name = "WhatsApp connection"

    def __str__(self):
        return f"{self.name}: {self.state}"
