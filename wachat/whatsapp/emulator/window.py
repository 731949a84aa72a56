"""The 24-hour customer-service window, kept the way Meta keeps it: a business may send
free-form messages to a WhatsApp user only within 24 hours of that user's last message to
the business; templates are always allowed. Outside it, Meta accepts the request (200,
with a wamid) and then reports the message failed with error 131047 in a status webhook.
https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-messages#customer-service-windows

The emulator's record is its own message log: the newest message each phone sent. A phone
that wrote before the log began (the demo agent, test personas) gets a hidden `window`
row, so the demo relays at once instead of asking the agent to write first.
"""

from datetime import timedelta

from django.utils import timezone

from wachat.whatsapp.emulator.models import PhoneMessage

WINDOW = timedelta(hours=24)
OPENED = "window"  # a PhoneMessage kind: "this phone wrote", never shown on the phone page


def _sent_by(phone):
    return PhoneMessage.objects.filter(phone=phone, direction=PhoneMessage.Direction.FROM_PHONE)


def last_inbound(phone):
    """When `phone` last wrote to the business (None: never)."""
    return _sent_by(phone).order_by("-created_at").values_list("created_at", flat=True).first()


def is_open(phone, *, now=None):
    last = last_inbound(phone)
    return last is not None and (now or timezone.now()) - last < WINDOW


def open_window(phone):
    """`phone` wrote to the business just now (without a message in the log)."""
    return PhoneMessage.objects.create(
        phone=phone, direction=PhoneMessage.Direction.FROM_PHONE, kind=OPENED
    )


def age(phone, hours):
    """Make `phone`'s last message to the business `hours` old (a knob for tests): every
    message it sent moves back in time by the same amount, so their order is kept."""
    when = timezone.now() - timedelta(hours=hours)
    last = last_inbound(phone)
    if last is None:
        PhoneMessage.objects.filter(pk=open_window(phone).pk).update(created_at=when)
        return
    for message in _sent_by(phone).only("created_at"):  # portable: no datetime arithmetic in SQL
        PhoneMessage.objects.filter(pk=message.pk).update(
            created_at=message.created_at - (last - when)
        )


def state(phone):
    last = last_inbound(phone)
    return {
        "phone": phone,
        "last_inbound_at": last and last.isoformat(),
        "open": is_open(phone),
    }
