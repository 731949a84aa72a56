"""chat_settings: key/value settings edited in the back office, secrets encrypted."""

import base64
import hashlib

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.db import models


def _fernet():
    """MultiFernet over ENCRYPTION_KEYS (newest first), or one key derived from SECRET_KEY."""
    keys = settings.ENCRYPTION_KEYS or [
        base64.urlsafe_b64encode(hashlib.sha256(settings.SECRET_KEY.encode()).digest()).decode()
    ]
    return MultiFernet([Fernet(key) for key in keys])


class ChatSetting(models.Model):
    key = models.CharField(max_length=100, unique=True)
    value = models.TextField(blank=True, default="")
    encrypted = models.BooleanField(default=False)
    description = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "chat_settings"

    def __str__(self):
        return self.key

    @classmethod
    def get(cls, key, default=""):
        row = cls.objects.filter(key=key).first()
        return row.plain_value if row else default

    @classmethod
    def put(cls, key, value, *, encrypted=False, description=None):
        row, _ = cls.objects.get_or_create(key=key)
        row.set_value(value, encrypted=encrypted)
        if description is not None:
            row.description = description
        row.save()
        return row

    def set_value(self, value, *, encrypted):
        """Store `value`, encrypted when asked (not saved: the caller saves)."""
        self.encrypted = encrypted
        self.value = _fernet().encrypt(value.encode()).decode() if encrypted else value

    @property
    def plain_value(self):
        if not self.encrypted:
            return self.value
        return _fernet().decrypt(self.value.encode()).decode()

    @property
    def masked_value(self):
        """What the admin shows for an encrypted value."""
        return "••••••••" if self.encrypted and self.value else self.value

    def rotate(self):
        """Re-encrypt under the newest key (after ENCRYPTION_KEYS gained a new first key)."""
        if self.encrypted:
            self.value = _fernet().rotate(self.value.encode()).decode()
            self.save(update_fields=["value", "updated_at"])
