import pytest
from django.utils import timezone

from wachat.conversations import actions
from wachat.ops.models import WorkerHeartbeat
from wachat.ops.tasks import beat
from wachat.whatsapp.models import WebhookEvent

pytestmark = pytest.mark.django_db


def test_healthz_answers(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_is_unavailable_without_a_worker_heartbeat(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["worker"] == "no heartbeat"
    assert response.json()["database"] == "ok"


def test_readyz_is_ready_with_a_recent_heartbeat(client):
    beat()
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()


def test_a_stale_heartbeat_does_not_count(client):
    WorkerHeartbeat.objects.create(
        worker="old:1", beat_at=timezone.now() - timezone.timedelta(minutes=5)
    )
    assert client.get("/readyz").status_code == 503


def test_metrics_count_messages_and_webhook_backlog(client, visitor):
    actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="c1")
    WebhookEvent.objects.create(event_type="messages", payload={})
    body = client.get("/metrics").content.decode()
    assert 'wachat_messages{direction="inbound",status="sent"} 1.0' in body
    assert "wachat_webhook_events_pending 1.0" in body
    assert "wachat_database_up 1.0" in body
    assert "wachat_webhook_lag_seconds" in body


@pytest.mark.django_db(transaction=True)
def test_graph_calls_and_deliveries_are_counted(client, alice, visitor, emulator):
    from prometheus_client import REGISTRY

    def value(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0

    ok_before = value("wachat_graph_api_requests_total", endpoint="messages", outcome="ok")
    sent_before = value("wachat_message_deliveries_total", result="sent")
    actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="c1")
    assert (
        value("wachat_graph_api_requests_total", endpoint="messages", outcome="ok") == ok_before + 1
    )
    assert value("wachat_message_deliveries_total", result="sent") == sent_before + 1


def test_breaker_state_is_exported(client):
    from wachat.whatsapp.models import CircuitBreakerState

    CircuitBreakerState.objects.create(name="graph", state="open")
    body = client.get("/metrics").content.decode()
    assert 'wachat_graph_breaker_open{name="graph"} 1.0' in body


def test_metrics_token_guards_the_scrape(client, settings):
    settings.METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answer = client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert answer.status_code == 200
    assert b"wachat_database_up" in answer.content
