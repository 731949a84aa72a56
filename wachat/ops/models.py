from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time a worker process proved it runs tasks; /readyz reads it."""

    worker = models.CharField(max_length=100, unique=True)  # host:pid
    beat_at = models.DateTimeField()

    class Meta:
        db_table = "worker_heartbeats"

    def __str__(self):
        return f"{self.worker} at {self.beat_at:%H:%M:%S}"
