"""Signed visitor tokens: the widget keeps one in localStorage and shows it on every call.

A token names the visitor's session; it is signed with SECRET_KEY (so it cannot be
forged) and expires after WIDGET_TOKEN_MAX_AGE.
"""

import secrets

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
