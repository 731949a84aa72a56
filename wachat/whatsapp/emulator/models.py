"""The emulator's own record of what crossed the fake WhatsApp network."""

import hashlib
import secrets

from django.db import models


def new_wamid():
    return "wamid.EMU" + secrets.token_hex(16).upper()


class PhoneMessage(models.Model):
    """One message between the business number and a WhatsApp user the emulator plays."""

    class Direction(models.TextChoices):
        TO_PHONE = "to_phone"  # sent by the business through the Graph API
        FROM_PHONE = "from_phone"  # typed on the emulator's phone page

    wamid = models.CharField(max_length=64, unique=True, default=new_wamid)
    phone = models.CharField(max_length=20, db_index=True)  # the user's wa_id
    direction = models.CharField(max_length=10, choices=Direction.choices)
    kind = models.CharField(max_length=20, default="text")
    body = models.TextField(blank=True, default="")
    context_wamid = models.CharField(max_length=64, null=True, blank=True)
    media_id = models.CharField(max_length=32, blank=True, default="")  # image, document
    filename = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=10, default="sent")  # sent, delivered, read
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"{self.direction} {self.phone}: {self.body[:40]}"

    def as_json(self):
        return {
            "id": self.pk,
            "wamid": self.wamid,
            "phone": self.phone,
            "direction": self.direction,
            "kind": self.kind,
            "body": self.body,
            "context_wamid": self.context_wamid,
            "media_id": self.media_id,
            "filename": self.filename,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
        }


def new_media_id():
    return str(10**15 + secrets.randbelow(9 * 10**15))  # Meta's media ids are 16 digits


class Media(models.Model):
    """A file in the emulated WhatsApp media store: uploaded by the business through the
    Graph API, or sent from the phone page (then downloaded by the app's worker)."""

    media_id = models.CharField(max_length=32, unique=True, default=new_media_id)
    mime_type = models.CharField(max_length=100)
    filename = models.CharField(max_length=255, blank=True, default="")
    sha256 = models.CharField(max_length=64)
    content = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.media_id} {self.mime_type}"

    @classmethod
    def store(cls, content, *, mime_type, filename=""):
        return cls.objects.create(
            content=content,
            mime_type=mime_type,
            filename=filename,
            sha256=hashlib.sha256(content).hexdigest(),
        )


class Fault(models.Model):
    """A fault knob: what the emulator does wrong, and how many more times. Kept in the
    database so the web process, the worker and a test driving it over HTTP all see it."""

    class Target(models.TextChoices):
        GRAPH = "graph"  # the Graph API endpoints the app calls
        WEBHOOKS = "webhooks"  # the webhooks the emulator posts to the app

    class Action(models.TextChoices):
        ERROR = "error"  # graph: answer http_status with Graph error `code`
        LATENCY = "latency"  # graph: answer after delay_ms
        TIMEOUT = "timeout"  # graph: hold the request delay_ms, then 504 (client times out)
        DROP = "drop"  # webhooks: never deliver
        DUPLICATE = "duplicate"  # webhooks: deliver twice
        REORDER = "reorder"  # webhooks: deliver this one after the next one

    target = models.CharField(max_length=10, choices=Target.choices)
    action = models.CharField(max_length=10, choices=Action.choices)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    code = models.PositiveIntegerField(null=True, blank=True)
    retry_after = models.PositiveIntegerField(null=True, blank=True)  # seconds, for errors
    delay_ms = models.PositiveIntegerField(default=0)
    path = models.CharField(max_length=100, blank=True, default="")  # only paths containing
    remaining = models.PositiveIntegerField(null=True, blank=True)  # null: until cleared
    held = models.JSONField(null=True, blank=True)  # reorder: the webhook waiting its turn
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"{self.target} {self.action} x{self.remaining}"

    def as_json(self):
        return {
            "id": self.pk,
            "target": self.target,
            "action": self.action,
            "http_status": self.http_status,
            "code": self.code,
            "retry_after": self.retry_after,
            "delay_ms": self.delay_ms,
            "path": self.path,
            "remaining": self.remaining,
        }
