"""The WhatsApp connection page in the admin shows a broken token and an open breaker."""

import pytest

from wachat.whatsapp import breaker
from wachat.whatsapp.errors import GraphError
from wachat.whatsapp.models import CircuitBreakerState

URL = "/admin/whatsapp/circuitbreakerstate/"


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.mark.django_db
def test_a_token_error_shows_as_a_broken_connection(admin_client):
    breaker.mark_broken(GraphError(message="Session has expired", code=190, http_status=401))
    page = admin_client.get(URL).content.decode()
    assert "Broken: The WhatsApp access token is invalid or expired." in page


@pytest.mark.django_db
def test_an_open_breaker_shows_as_paused(admin_client, settings):
    settings.WHATSAPP_BREAKER_THRESHOLD = 1
    breaker.record_failure("HTTP 503")
    page = admin_client.get(URL).content.decode()
    assert "Paused: WhatsApp is failing" in page


@pytest.mark.django_db
def test_the_reset_action_closes_the_breaker(admin_client, settings):
    settings.WHATSAPP_BREAKER_THRESHOLD = 1
    breaker.record_failure("HTTP 503")
    row = CircuitBreakerState.objects.get()
    admin_client.post(URL, {"action": "close_breaker", "_selected_action": [row.pk]})
    row.refresh_from_db()
    assert (row.state, row.consecutive_failures) == ("closed", 0)
    assert breaker.allow().allowed
