"""`manage.py replay_webhooks 12 13` or `--failed`: process stored webhooks again.

Safe to run on events already processed: applying an event is idempotent, so a message
or status it carries is never stored or moved twice.
"""

from django.core.management.base import BaseCommand, CommandError

from wachat.whatsapp.models import MAX_PROCESSING_ATTEMPTS, WebhookEvent
from wachat.whatsapp.tasks import replay_webhook_event


class Command(BaseCommand):
    help = "Re-process stored WhatsApp webhook events (by id, or all waiting for review)."

    def add_arguments(self, parser):
        parser.add_argument("ids", nargs="*", type=int, help="webhook_events ids")
        parser.add_argument(
            "--failed",
            action="store_true",
            help=f"every unprocessed event that used its {MAX_PROCESSING_ATTEMPTS} attempts",
        )

    def handle(self, *args, ids, failed, **options):
        if bool(ids) == failed:
            raise CommandError("give event ids, or --failed (not both)")
        if failed:
            ids = list(
                WebhookEvent.objects.filter(
                    processed=False, retry_count__gte=MAX_PROCESSING_ATTEMPTS
                ).values_list("pk", flat=True)
            )
        missing = set(ids) - set(
            WebhookEvent.objects.filter(pk__in=ids).values_list("pk", flat=True)
        )
        if missing:
            raise CommandError(f"no such event: {', '.join(map(str, sorted(missing)))}")
        still_failing = 0
        for event_id in ids:
            event = replay_webhook_event(event_id)
            if event.processed:
                self.stdout.write(f"#{event_id} processed")
            else:
                still_failing += 1
                self.stdout.write(f"#{event_id} failed: {event.error_message}")
        self.stdout.write(f"{len(ids) - still_failing} processed, {still_failing} failed")
