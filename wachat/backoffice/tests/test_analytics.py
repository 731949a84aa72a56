import re

import pytest
from django.utils import timezone

from wachat.backoffice import analytics
from wachat.conversations import actions
from wachat.whatsapp.models import WebhookEvent

pytestmark = pytest.mark.django_db


def test_the_analytics_page_shows_volume_and_checks(admin_client, visitor, bob):
    message, _ = actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="c1")
    actions.send_agent_message(
        conversation=message.conversation, agent=bob, text="hello", client_id="a1"
    )
    response = admin_client.get("/admin/conversations/conversation/analytics/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Median first response" in body
    assert "Webhook processing delay" in body
    assert "from the website" in body  # the Conversation Center's name for "widget"


def test_first_response_is_measured_from_the_visitor_to_the_agent(visitor, bob):
    message, _ = actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="c1")
    message.created_at = timezone.now() - timezone.timedelta(seconds=90)
    message.save(update_fields=["created_at"])
    actions.send_agent_message(
        conversation=message.conversation, agent=bob, text="hello", client_id="a1"
    )
    seconds = analytics.report()["first_response_median_seconds"]
    assert 89 <= seconds <= 95


def test_an_old_unprocessed_webhook_raises_the_delay_check():
    event = WebhookEvent.objects.create(event_type="messages", payload={})
    WebhookEvent.objects.filter(pk=event.pk).update(
        created_at=timezone.now() - timezone.timedelta(minutes=2)
    )
    delay = next(c for c in analytics.report()["checks"] if c.name == "Webhook processing delay")
    assert not delay.ok


def test_agents_without_permission_cannot_see_analytics(client, bob):
    client.force_login(bob.user)
    response = client.get("/admin/conversations/conversation/analytics/")
    assert response.status_code == 302  # to the admin login: not staff


def test_the_analytics_page_explains_alerting_without_internal_words(admin_client):
    body = admin_client.get("/admin/conversations/conversation/analytics/").content.decode()
    assert "Prometheus alert rules" in body
    assert "seed" not in body.lower()


def sidebar_link(body, href):
    return re.search(rf'<a href="{href}" class="flex h-\[38px\][^"]*"', body).group(0)


def test_only_analytics_is_highlighted_in_the_sidebar_on_analytics(admin_client):
    body = admin_client.get("/admin/conversations/conversation/analytics/").content.decode()
    assert " active" in sidebar_link(body, "/admin/conversations/conversation/analytics/")
    assert " active" not in sidebar_link(body, "/admin/conversations/conversation/")

    body = admin_client.get("/admin/conversations/conversation/").content.decode()
    assert " active" in sidebar_link(body, "/admin/conversations/conversation/")
    assert " active" not in sidebar_link(body, "/admin/conversations/conversation/analytics/")
