"""`manage.py rotate_secrets`: re-encrypt every encrypted setting under the newest key.

Rotation: put a new Fernet key first in ENCRYPTION_KEYS (keep the old ones after it),
restart, run this, then drop the old keys.
"""

from django.core.management.base import BaseCommand

from wachat.backoffice.models import ChatSetting


class Command(BaseCommand):
    help = "Re-encrypt encrypted chat_settings under the newest ENCRYPTION_KEYS key."

    def handle(self, *args, **options):
        rows = ChatSetting.objects.filter(encrypted=True)
        for row in rows:
            row.rotate()
        self.stdout.write(f"re-encrypted {len(rows)} setting(s)")
