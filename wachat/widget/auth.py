"""Signed visitor tokens: the widget keeps one in localStorage and shows it on every call.

A token names the visitor's session; it is signed with SECRET_KEY (so it cannot be
forged) and expires after WIDGET_TOKEN_MAX_AGE.
"""

import hashlib
import hmac
import secrets
import time

from django.conf import settings
from django.core import signing

SALT = "wachat.widget.visitor"


def new_session_id():
    return secrets.token_urlsafe(18)


def issue_token(session_id):
    return signing.dumps({"s": session_id}, salt=SALT, compress=False)


def session_id_from_token(token):
    """The session id in a valid token, else None."""
    if not token:
        return None
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.WIDGET_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    return data.get("s") if isinstance(data, dict) else None


def identity_signature(user_id, timestamp, secret=None):
    """What the host site computes on its server: hex HMAC-SHA256 of "<user id>:<time>"."""
    key = (secret or settings.WIDGET_IDENTITY_SECRET).encode()
    return hmac.new(key, f"{user_id}:{timestamp}".encode(), hashlib.sha256).hexdigest()


def check_identity(user_id, timestamp, signature, now=None):
    """None when the signature is valid and fresh, else why not (for the site's developer)."""
    if not settings.WIDGET_IDENTITY_SECRET:
        return "Identity verification is not set up (WIDGET_IDENTITY_SECRET)."
    age = (now or time.time()) - timestamp
    if not -300 <= age <= settings.WIDGET_IDENTITY_MAX_AGE:  # a little clock skew is fine
        return "The identity signature has expired."
    expected = identity_signature(user_id, timestamp)
    if not hmac.compare_digest(expected, signature or ""):
        return "The identity signature is not valid."
    return None
