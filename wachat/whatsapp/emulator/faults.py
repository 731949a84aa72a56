"""Fault knobs: the emulator failing on purpose, as tests (and curious developers) ask.

Set over HTTP (POST /emulator/api/faults) or with `add()`; stored in the database so the
process that serves the Graph API or posts webhooks sees knobs set by another process.
"""

from django.db import transaction
from django.db.models import F, Q

from wachat.whatsapp.emulator.models import Fault

# The message Meta puts with each code the knobs can produce (emulated, not exhaustive).
MESSAGES = {
    1: "An unknown error occurred",
    2: "Service temporarily unavailable",
    4: "(#4) Application request limit reached",
    100: "(#100) Invalid parameter",
    190: "Error validating access token: Session has expired",
    80007: "(#80007) Rate limit issues",
    130429: "(#130429) Rate limit hit",
    131000: "(#131000) Something went wrong",
    131016: "(#131016) Service unavailable",
    131026: "(#131026) Message undeliverable",
    131047: "(#131047) Re-engagement message",
    131051: "(#131051) Unsupported message type",
    131056: "(#131056) (Business Account, Consumer Account) pair rate limit hit",
    132000: "(#132000) Number of parameters does not match the expected number of params",
    132001: "(#132001) Template name does not exist in the translation",
    133004: "(#133004) Server temporarily unavailable",
}
# The short title Meta puts in a failed status's errors[] (webhooks, not API answers).
TITLES = {131047: "Re-engagement message"}
DETAILS = {
    131047: "Message failed to send because more than 24 hours have passed since the "
    "customer last replied to this number.",
}


def add(target, action, *, count=1, **fields):
    """A new knob; `count=None` keeps it until clear()."""
    return Fault.objects.create(target=target, action=action, remaining=count, **fields)


def clear():
    Fault.objects.all().delete()


def live(target):
    return Fault.objects.filter(target=target).filter(
        Q(remaining__isnull=True) | Q(remaining__gt=0)
    )


def take(target, action=None, *, path="", consume=True, skip_codes=()):
    """The oldest live knob for `target` (and `action`) matching `path`; one of its uses
    is consumed atomically, so two processes never both spend the last one."""
    faults = live(target)
    if action:
        faults = faults.filter(action=action)
    if skip_codes:
        faults = faults.exclude(code__in=skip_codes)
    for fault in faults:
        if fault.path and fault.path not in path:
            continue
        if fault.remaining is None or not consume:
            return fault
        if Fault.objects.filter(pk=fault.pk, remaining__gt=0).update(remaining=F("remaining") - 1):
            return fault
    return None


def swap_held(fault, payload):
    """Reorder: keep `payload` until the next webhook, or hand back the one kept before."""
    with transaction.atomic():
        fault = Fault.objects.select_for_update().get(pk=fault.pk)
        if fault.held is None:
            fault.held = payload
            fault.save(update_fields=["held"])
            return None
        held, fault.held = fault.held, None
        if fault.remaining is not None:
            fault.remaining = max(0, fault.remaining - 1)
        fault.save(update_fields=["held", "remaining"])
        return held
