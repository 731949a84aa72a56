"""`manage.py run_worker`: the Huey consumer with WaChat's polling settings.

Use it when scaled out (REDIS_URL set); without Redis `manage.py serve` runs the worker.
"""

from django.core.management.base import BaseCommand
from huey.contrib.djhuey import HUEY


class Command(BaseCommand):
    help = "Run the background worker (Huey consumer)."

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=4)

    def handle(self, *args, workers, **options):
        consumer = HUEY.create_consumer(
            workers=workers, worker_type="thread", initial_delay=0.05, max_delay=0.5, backoff=1.3
        )
        consumer.run()
