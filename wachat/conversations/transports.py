"""Outbound delivery channels, resolved from settings.WACHAT_TRANSPORTS (dotted paths).

The domain never imports an integration: it asks each transport whether a message has
somewhere to go and hands it over after commit. A transport implements:

    wants(message) -> bool        # decided inside the writing transaction
    enqueue(message_id) -> None   # called after commit
"""

from functools import cache

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string


@cache
def _transports():
    return [import_string(path)() for path in settings.WACHAT_TRANSPORTS]


def claim(message):
    """The transports that will deliver `message` (empty: nowhere to deliver it)."""
    return [transport for transport in _transports() if transport.wants(message)]


def enqueue_on_commit(message, claimed):
    for transport in claimed:
        transaction.on_commit(lambda t=transport: t.enqueue(message.pk))
