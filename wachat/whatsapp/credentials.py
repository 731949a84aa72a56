"""The WhatsApp connection's credentials: from the admin's Settings when set there (the
secrets encrypted in chat_settings), else from the environment (WHATSAPP_*).

Every Graph call and every webhook needs them, so each process keeps them for TTL seconds.
Saving or deleting a setting clears this process's copy at once; other processes (a
separate worker, more web servers) follow within TTL.
"""

import logging
import time
from dataclasses import dataclass

from cryptography.fernet import InvalidToken
from django.conf import settings

log = logging.getLogger(__name__)

TTL = 15  # seconds

# chat_settings key -> (Credentials field, environment setting, secret: stored encrypted)
KEYS = {
    "whatsapp_access_token": ("access_token", "WHATSAPP_ACCESS_TOKEN", True),
    "whatsapp_phone_number_id": ("phone_number_id", "WHATSAPP_PHONE_NUMBER_ID", False),
    "whatsapp_app_secret": ("app_secret", "WHATSAPP_APP_SECRET", True),
    "whatsapp_verify_token": ("verify_token", "WHATSAPP_VERIFY_TOKEN", True),
}


@dataclass(frozen=True)
class Credentials:
    access_token: str
    phone_number_id: str
    app_secret: str
    verify_token: str


_kept = None  # (monotonic expiry, Credentials)


def current():
    """The credentials in force (reads the database at most once per TTL)."""
    global _kept
    kept = cached()
    if kept is not None:
        return kept
    from wachat.backoffice.models import ChatSetting  # the back office imports us

    stored = {row.key: row for row in ChatSetting.objects.filter(key__in=KEYS)}
    values = {}
    for key, (field, environment, _) in KEYS.items():
        values[field] = _stored_value(stored.get(key)) or getattr(settings, environment)
    credentials = Credentials(**values)
    _kept = (time.monotonic() + TTL, credentials)
    return credentials


def cached():
    """The credentials if this process read them less than TTL ago, else None. Never
    touches the database (the webhook's async fast path asks this first)."""
    kept = _kept
    return kept[1] if kept and kept[0] > time.monotonic() else None


def forget(**kwargs):
    """Read them again next time (connected to ChatSetting's save/delete and to settings
    changes in tests)."""
    global _kept
    _kept = None


def _stored_value(row):
    if row is None:
        return ""
    try:
        return row.plain_value.strip()
    except InvalidToken:
        # Its key left ENCRYPTION_KEYS: say so, and fall back to the environment.
        log.error("setting %s cannot be decrypted with ENCRYPTION_KEYS; ignored", row.key)
        return ""
