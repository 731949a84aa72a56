"""The worker's heartbeat: written at start-up and every minute, read by /readyz."""

import os
import socket
from datetime import timedelta

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task

from wachat.ops.models import WorkerHeartbeat

STALE_AFTER = timedelta(minutes=3)


def beat():
    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        worker=f"{socket.gethostname()}:{os.getpid()}", defaults={"beat_at": now}
    )
    WorkerHeartbeat.objects.filter(beat_at__lt=now - STALE_AFTER * 10).delete()


@db_periodic_task(crontab(minute="*"))
def heartbeat():
    beat()


@HUEY.on_startup()
def heartbeat_on_startup():
    beat()


def worker_alive():
    return WorkerHeartbeat.objects.filter(beat_at__gte=timezone.now() - STALE_AFTER).exists()
