"""The back office shows visitors' ratings (conversation list, analytics) and the one-line
embed snippet on the chat settings page."""

import pytest
from django.utils import timezone

from wachat.backoffice import analytics
from wachat.conversations import actions

pytestmark = pytest.mark.django_db


def rated_conversation(session_id, agent, rating, comment=""):
    visitor = actions.touch_visitor_session(session_id=session_id)
    message, _ = actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="c")
    conversation = actions.close_conversation(conversation=message.conversation, by=agent)
    return actions.rate_conversation(conversation=conversation, rating=rating, comment=comment)


def test_analytics_averages_the_ratings_of_the_period(bob):
    rated_conversation("v1", bob, 5)
    rated_conversation("v2", bob, 4)
    old = rated_conversation("v3", bob, 1)
    old.rated_at = timezone.now() - timezone.timedelta(days=30)
    old.save(update_fields=["rated_at"])
    assert analytics.report(days=14)["satisfaction"] == {"average": 4.5, "count": 2}


def test_analytics_without_ratings_says_so(admin_client):
    assert analytics.report()["satisfaction"] == {"average": None, "count": 0}
    body = admin_client.get("/admin/conversations/conversation/analytics/").content.decode()
    assert "Satisfaction, last 14 days" in body
    assert "0 ratings" in body


def test_the_analytics_page_shows_average_and_count(admin_client, bob):
    rated_conversation("v1", bob, 5)
    rated_conversation("v2", bob, 2)
    body = admin_client.get("/admin/conversations/conversation/analytics/").content.decode()
    assert "3.5 / 5" in body
    assert "2 ratings" in body


def test_the_conversation_list_shows_the_rating(admin_client, bob):
    rated_conversation("v1", bob, 4, 'Great <script>alert("x")</script>')
    body = admin_client.get("/admin/conversations/conversation/").content.decode()
    assert "★★★★☆ (4/5)" in body
    assert "&lt;script&gt;" in body and '<script>alert("x")' not in body


def test_the_settings_page_shows_the_embed_snippet_for_this_server(admin_client, settings):
    settings.PUBLIC_URL = "https://chat.example.com"
    body = admin_client.get("/admin/backoffice/chatsetting/").content.decode()
    snippet = (
        "&lt;script async src=&quot;https://chat.example.com/static/wachat/widget.js&quot;&gt;"
    )
    assert snippet + "&lt;/script&gt;" in body
    assert 'id="wc-embed-copy"' in body
