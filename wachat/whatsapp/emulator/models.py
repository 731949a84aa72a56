"""The emulator's own record of what crossed the fake WhatsApp network."""

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
            "status": self.status,
            "created_at": self.created_at.isoformat(),
        }
