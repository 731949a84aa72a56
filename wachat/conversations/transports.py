"""Outbound delivery channels, resolved from settings.WACHAT_TRANSPORTS (dotted paths).

The domain never imports an integration: it asks each transport whether a message has
somewhere to go and hands it over after commit. A transport implements:

    wants(message) -> bool        # decided inside the writing transaction
    enqueue(message_id) -> None   # called after commit
    read(message_ids) -> None     # optional: the visitor has read these agent messages
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


def read_on_commit(message_ids):
    """After commit, tell the transports that have a `read` method that `message_ids` were
    read: agent messages the visitor saw, or visitor/customer messages an agent saw (so
    blue ticks show where each was written)."""
    if not message_ids:
        return
    for transport in _transports():
        if hasattr(transport, "read"):
            transaction.on_commit(lambda t=transport: t.read(list(message_ids)))


def react_on_commit(message):
    """Hand the business's reaction on `message` to the transports that deliver it."""
    for transport in _transports():
        if getattr(transport, "wants_reaction", None) and transport.wants_reaction(message):
            transaction.on_commit(lambda t=transport: t.enqueue_reaction(message.pk))
