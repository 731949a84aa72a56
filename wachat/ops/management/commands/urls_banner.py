"""`manage.py urls_banner`: what `make run` prints before it starts serving."""

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Print the URLs of the running demo."

    def handle(self, *args, **options):
        base = settings.PUBLIC_URL
        lines = [
            f"WaChat is starting on {base}/",
            f"  demo website with the widget: {base}/demo/",
        ]
        if settings.WHATSAPP_EMULATOR:
            lines.append(f"  WhatsApp emulator (phone):    {base}/emulator/")
        lines += [
            f"  Conversation Center:          {base}/center/",
            f"  admin:                        {base}/admin/",
            f"  Graph API:                    {settings.WHATSAPP_GRAPH_URL}",
            "Ctrl-C stops everything.",
        ]
        self.stdout.write("\n".join(lines))
