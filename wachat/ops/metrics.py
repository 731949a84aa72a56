"""Prometheus metrics at /metrics.

Two kinds: counters and histograms kept by the process that does the work (Graph API calls
in the worker, WebSocket connections in the web server), and gauges read from the database
at scrape time (messages by status, webhook backlog and lag, task queue), which are the
same whichever process is scraped. A separately run worker (`run_worker --metrics-port`)
serves its own counters.
"""

from django.db import DatabaseError
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

graph_requests = Counter(
    "wachat_graph_api_requests_total", "Graph API calls by outcome", ["endpoint", "outcome"]
)
graph_latency = Histogram(
    "wachat_graph_api_latency_seconds",
    "Graph API call latency",
    ["endpoint"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
deliveries = Counter(
    "wachat_message_deliveries_total", "Outbound deliveries finished, by result", ["result"]
)
websocket_connections = Gauge(
    "wachat_websocket_connections", "Open WebSocket connections in this process", ["kind"]
)
websocket_disconnects = Counter(
    "wachat_websocket_disconnects_total", "WebSocket connections closed", ["kind"]
)
websocket_resumes = Counter(
    "wachat_websocket_resumes_total", "Reconnected clients asking for missed events", ["kind"]
)


class DatabaseCollector(Collector):
    """Gauges computed from the source of truth when Prometheus scrapes."""

    def describe(self):
        return []  # without this, registering would query the database at import time

    def collect(self):
        try:
            families = list(self._from_database())
        except DatabaseError:
            yield GaugeMetricFamily("wachat_database_up", "The database answers", 0)
            return
        yield GaugeMetricFamily("wachat_database_up", "The database answers", 1)
        yield from families

    def _from_database(self):
        from huey.contrib.djhuey import HUEY

        from wachat.conversations.models import Message
        from wachat.whatsapp.models import (
            MAX_PROCESSING_ATTEMPTS,
            CircuitBreakerState,
            WebhookEvent,
        )

        messages = GaugeMetricFamily(
            "wachat_messages", "Messages by direction and status", labels=["direction", "status"]
        )
        for row in Message.objects.values("direction", "status").annotate(n=Count("pk")):
            messages.add_metric([row["direction"], row["status"]], row["n"])
        yield messages

        unprocessed = WebhookEvent.objects.filter(processed=False)
        waiting = unprocessed.filter(retry_count__lt=MAX_PROCESSING_ATTEMPTS)
        yield GaugeMetricFamily(
            "wachat_webhook_events_pending", "Stored webhooks not processed yet", waiting.count()
        )
        yield GaugeMetricFamily(
            "wachat_webhook_events_review",
            "Webhooks that failed every attempt and wait for a replay",
            unprocessed.filter(retry_count__gte=MAX_PROCESSING_ATTEMPTS).count(),
        )
        oldest = waiting.aggregate(oldest=Min("created_at"))["oldest"]
        lag = (timezone.now() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "wachat_webhook_lag_seconds", "Age of the oldest unprocessed webhook", lag
        )
        yield GaugeMetricFamily(
            "wachat_task_queue_depth", "Tasks waiting in the worker queue", HUEY.pending_count()
        )
        breaker = GaugeMetricFamily(
            "wachat_graph_breaker_open",
            "Graph API circuit breaker: 0 closed, 0.5 half-open, 1 open",
            labels=["name"],
        )
        level = {"closed": 0.0, "half_open": 0.5, "open": 1.0}
        for name, state in CircuitBreakerState.objects.values_list("name", "state"):
            breaker.add_metric([name], level.get(state, 1.0))
        yield breaker
        yield GaugeMetricFamily(
            "wachat_graph_credentials_broken",
            "1 when the Graph API refused the access token (error 190)",
            int(CircuitBreakerState.objects.exclude(broken_credentials="").exists()),
        )


REGISTRY.register(DatabaseCollector())
