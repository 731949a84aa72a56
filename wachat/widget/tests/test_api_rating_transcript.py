"""After a conversation closes, the visitor rates it (POST /api/widget/rating) and may have
its transcript e-mailed (POST /api/widget/transcript)."""

import pytest
from django.core import mail
from django.test import Client

from wachat.conversations import actions
from wachat.conversations.models import Conversation
from wachat.widget import auth

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(visitor, bob):
    message, _ = actions.send_visitor_message(
        visitor_session=visitor, text="My order 1234 has not arrived", client_id="v1"
    )
    conversation = message.conversation
    actions.assign_conversation(conversation=conversation, agent=bob, by=bob)
    actions.send_agent_message(
        conversation=conversation, agent=bob, text="It ships <b>today</b>.", client_id="a1"
    )
    actions.add_note(
        conversation=conversation, agent=bob, text="SECRET: customer is grumpy", client_id="n1"
    )
    return conversation


@pytest.fixture
def closed(conversation, bob):
    return actions.close_conversation(conversation=conversation, by=bob)


def rate(widget, conversation, rating=5, comment=""):
    return widget.post(
        "/api/widget/rating",
        {"conversation_id": str(conversation.pk), "rating": rating, "comment": comment},
        content_type="application/json",
    )


def ask_transcript(widget, conversation, email="me@example.com"):
    return widget.post(
        "/api/widget/transcript",
        {"conversation_id": str(conversation.pk), "email": email},
        content_type="application/json",
    )


# --- Rating ---------------------------------------------------------------------------------


def test_it_stores_the_rating_of_a_closed_conversation(widget, closed):
    response = rate(widget, closed, 4, "  Quick and kind  ")
    assert response.status_code == 200
    closed.refresh_from_db()
    assert (closed.rating, closed.rating_comment) == (4, "Quick and kind")
    assert closed.rated_at is not None
    assert response.json()["rating"] == 4


def test_an_open_conversation_cannot_be_rated(widget, conversation):
    response = rate(widget, conversation)
    assert response.status_code == 409
    assert "closed" in response.json()["detail"]
    conversation.refresh_from_db()
    assert conversation.rating is None


def test_a_conversation_is_rated_once(widget, closed):
    assert rate(widget, closed, 5).status_code == 200
    second = rate(widget, closed, 1, "changed my mind")
    assert second.status_code == 409
    assert "already" in second.json()["detail"]
    closed.refresh_from_db()
    assert (closed.rating, closed.rating_comment) == (5, "")


@pytest.mark.parametrize("rating", [0, 6, -1])
def test_a_rating_outside_one_to_five_is_refused(widget, closed, rating):
    response = rate(widget, closed, rating)
    assert response.status_code == 400
    assert "1 to 5" in response.json()["detail"]
    closed.refresh_from_db()
    assert closed.rating is None and closed.rated_at is None


def test_a_comment_over_2000_characters_is_refused_and_nothing_is_stored(widget, closed):
    response = rate(widget, closed, 5, "x" * 2001)
    assert response.status_code == 400
    assert "too long" in response.json()["detail"]
    closed.refresh_from_db()
    assert (closed.rating, closed.rating_comment, closed.rated_at) == (None, "", None)


def test_a_comment_of_2000_characters_is_fine(widget, closed):
    assert rate(widget, closed, 3, "x" * 2000).status_code == 200


def test_another_visitors_conversation_looks_absent(closed, db):
    stranger = actions.touch_visitor_session(session_id="stranger")
    other = Client(headers={"X-WaChat-Token": auth.issue_token(stranger.pk)})
    assert rate(other, closed).status_code == 404
    assert rate(other, type("C", (), {"pk": "not-a-uuid"})).status_code == 404
    closed.refresh_from_db()
    assert closed.rating is None


def test_rating_needs_a_token(client, closed):
    assert rate(client, closed).status_code == 401


def test_the_rating_reaches_the_agents_live(
    widget, closed, monkeypatch, django_capture_on_commit_callbacks
):
    from wachat.realtime import publish

    sent = []
    monkeypatch.setattr(publish, "send_now", lambda groups, event: sent.append((groups, event)))
    with django_capture_on_commit_callbacks(execute=True):
        rate(widget, closed, 2, "slow")
    agent_events = [e for g, e in sent if "agents.supervisors" in g]
    assert [e["event"] for e in agent_events] == ["conversation.updated"]
    assert agent_events[0]["conversation"]["rating"] == 2
    assert agent_events[0]["conversation"]["rating_comment"] == "slow"


def test_the_session_says_whether_the_last_conversation_was_rated(widget, visitor, closed):
    def state():
        body = {"token": auth.issue_token(visitor.pk)}
        return widget.post("/api/widget/session", body, content_type="application/json").json()

    assert state()["conversation"]["rated"] is False
    rate(widget, closed, 5)
    assert state()["conversation"]["rated"] is True


# --- Transcript -----------------------------------------------------------------------------


def test_the_transcript_is_emailed_with_visitor_and_agent_messages(
    widget, closed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = ask_transcript(widget, closed, " me@example.com ")
    assert response.status_code == 202
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["me@example.com"]
    assert closed.code in sent.subject
    assert "You: My order 1234 has not arrived" in sent.body
    assert "Bob: It ships <b>today</b>." in sent.body
    html, kind = sent.alternatives[0]
    assert kind == "text/html"
    assert "It ships &lt;b&gt;today&lt;/b&gt;." in html  # escaped, never markup


def test_the_transcript_has_no_private_notes_or_system_records(
    widget, closed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ask_transcript(widget, closed)
    sent = mail.outbox[0]
    html = sent.alternatives[0][0]
    for text in (sent.body, html):
        assert "SECRET" not in text
        assert "Closed by" not in text
        assert "Assigned" not in text and "took the conversation" not in text


def test_a_bad_address_is_refused_and_nothing_is_sent(
    widget, closed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = ask_transcript(widget, closed, "not-an-address")
    assert response.status_code == 400
    assert mail.outbox == []


def test_transcripts_are_rate_limited(widget, closed, settings, django_capture_on_commit_callbacks):
    settings.WIDGET_RATE_LIMITS = {
        **settings.WIDGET_RATE_LIMITS,
        "transcript": {"visitor": (2, 3600), "ip": (10, 3600)},
    }
    with django_capture_on_commit_callbacks(execute=True):
        answers = [ask_transcript(widget, closed, f"n{i}@example.com") for i in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert answers[2].json()["retry_after"] > 0
    assert [m.to for m in mail.outbox] == [["n0@example.com"], ["n1@example.com"]]


def test_the_default_limit_allows_only_a_few_transcripts_an_hour(settings):
    visitor_limit, window = settings.WIDGET_RATE_LIMITS["transcript"]["visitor"]
    assert visitor_limit <= 5 and window >= 3600


def test_another_visitors_transcript_cannot_be_requested(
    closed, django_capture_on_commit_callbacks
):
    stranger = actions.touch_visitor_session(session_id="stranger")
    other = Client(headers={"X-WaChat-Token": auth.issue_token(stranger.pk)})
    with django_capture_on_commit_callbacks(execute=True):
        assert ask_transcript(other, closed).status_code == 404
    assert mail.outbox == []
    assert Conversation.objects.get(pk=closed.pk).rating is None
