"""`manage.py demo_setup`: a demo admin and a demo agent, printed with their logins, and a
few canned responses, so "/" in the Conversation Center's reply box has something to offer.

Idempotent: run it on every `make run`. The agent is online with a WhatsApp number the
emulator's phone page plays, so visitor messages are relayed to it. Canned responses are
only added when their shortcut is free: edits made in the admin are kept.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils import timezone

from wachat.agents.models import CannedResponse
from wachat.conversations.models import ChatAgent

ADMIN = ("admin", "admin", "Ada Admin")
AGENT = ("agent", "agent", "Alice Agent", "15550001111")
CANNED = {
    "hello": "Hi! Thanks for getting in touch. How can I help you today?",
    "hours": "We are open Monday to Friday, 9:00 to 18:00. Outside those hours we answer "
    "the next working day.",
    "thanks": "Thank you for chatting with us! Is there anything else I can help you with?",
}


class Command(BaseCommand):
    help = "Create the demo admin and agent (idempotent) and print their logins."

    def handle(self, *args, **options):
        User = get_user_model()
        admin, _ = User.objects.get_or_create(
            username=ADMIN[0], defaults={"is_staff": True, "is_superuser": True}
        )
        admin.first_name, admin.last_name = ADMIN[2].split()
        _ensure_password(admin, ADMIN[1])
        admin.save()
        ChatAgent.objects.get_or_create(user=admin, defaults={"auto_assign": False})

        user, _ = User.objects.get_or_create(username=AGENT[0])
        user.first_name, user.last_name = AGENT[2].split()
        _ensure_password(user, AGENT[1])
        user.save()
        ChatAgent.objects.update_or_create(
            user=user,
            defaults={
                "status": ChatAgent.Status.ONLINE,
                "auto_assign": True,
                "whatsapp_phone_number": AGENT[3],
                "last_activity_at": timezone.now(),
            },
        )
        for shortcut, text in CANNED.items():
            CannedResponse.objects.get_or_create(shortcut=shortcut, defaults={"text": text})
        if settings.WHATSAPP_EMULATOR:
            # The emulator keeps WhatsApp's 24-hour window: the demo agent's phone "wrote"
            # to the business number just now, so visitor messages are relayed at once.
            from wachat.whatsapp.emulator import window

            window.open_window(AGENT[3])
        self.stdout.write(f"  admin login: {ADMIN[0]} / {ADMIN[1]}")
        self.stdout.write(f"  agent login: {AGENT[0]} / {AGENT[1]}  (WhatsApp +{AGENT[3]})")
        self.stdout.write("  canned responses: " + " ".join(f"/{s}" for s in CANNED))


def _ensure_password(user, password):
    """The printed login works; but a password set again (a new salt) would sign the demo
    users out of every open tab on each `make run`, so it is only set when it differs."""
    if not user.check_password(password):
        user.set_password(password)
