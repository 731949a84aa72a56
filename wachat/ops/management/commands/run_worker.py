"""`manage.py run_worker`: the Huey consumer with WaChat's polling settings.

Use it when scaled out (REDIS_URL set); without Redis `manage.py serve` runs the worker.
"""

from django.core.management.base import BaseCommand
from django.utils.module_loading import autodiscover_modules
from huey.contrib.djhuey import HUEY


class Command(BaseCommand):
    help = "Run the background worker (Huey consumer)."

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=4)
        parser.add_argument(
            "--metrics-port", type=int, default=0, help="serve this worker's /metrics on 127.0.0.1"
        )

    def handle(self, *args, workers, metrics_port, **options):
        autodiscover_modules("tasks")  # register every app's tasks with Huey
        if metrics_port:
            from prometheus_client import start_http_server

            from wachat.ops import metrics  # noqa: F401  (registers the collectors)

            start_http_server(metrics_port, addr="127.0.0.1")
        consumer = HUEY.create_consumer(
            workers=workers, worker_type="thread", initial_delay=0.05, max_delay=0.5, backoff=1.3
        )
        consumer.run()
