import json

from wachat.conversations import actions
from wachat.conversations.models import Conversation, Message


def post(widget, path, body):
    return widget.post(f"/api/widget/{path}", json.dumps(body), content_type="application/json")


def test_the_prechat_form_names_the_visitor(widget, visitor):
    response = post(
        widget, "profile", {"name": "Dana", "email": "dana@example.com", "consent": True}
    )
    assert response.status_code == 200
    # The e-mail comes back too: the widget prefills "E-mail me the transcript" with it.
    assert response.json()["profile"] == {"name": "Dana", "email": "dana@example.com"}
    visitor.refresh_from_db()
    assert visitor.metadata["name"] == "Dana"
    assert visitor.metadata["email"] == "dana@example.com"
    assert "consent_at" in visitor.metadata


def test_contact_details_need_consent(widget, visitor):
    response = post(widget, "profile", {"name": "Dana", "phone": "+1 555 0100"})
    assert response.status_code == 400
    assert "agree" in response.json()["detail"]
    visitor.refresh_from_db()
    assert not (visitor.metadata or {}).get("phone")


def test_bad_email_or_phone_is_refused(widget):
    bad_email = post(widget, "profile", {"name": "D", "email": "nope", "consent": True})
    bad_phone = post(widget, "profile", {"name": "D", "phone": "call me", "consent": True})
    assert bad_email.json()["detail"] == "That e-mail address does not look right."
    assert bad_phone.json()["detail"] == "That phone number does not look right."


def test_the_name_reaches_the_open_conversation(widget, visitor):
    actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="c1")
    post(widget, "profile", {"name": "Dana"})
    assert Conversation.objects.get().visitor_name == "Dana"


def test_the_session_reports_profile_and_conversation_code(client, visitor):
    from wachat.widget import auth

    message, _ = actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="c1")
    state = client.post(
        "/api/widget/session",
        {"token": auth.issue_token(visitor.pk)},
        content_type="application/json",
    ).json()
    assert state["session_id"] == visitor.pk
    assert state["conversation"]["code"] == message.conversation.code


def test_the_offline_form_leaves_a_message_with_contact_details(widget, visitor):
    body = {"name": "Dana", "email": "dana@example.com", "text": "Call me back", "client_id": "o1"}
    response = post(widget, "offline", body)
    assert response.status_code == 201
    conversation = Conversation.objects.get()
    assert conversation.metadata["offline"] is True
    assert conversation.metadata["visitor_email"] == "dana@example.com"
    assert conversation.messages.get().content == "Call me back"
    assert post(widget, "offline", body).status_code == 200  # a retry stores nothing new
    assert Message.objects.count() == 1


def test_an_offline_form_without_email_or_text_stores_nothing(widget, visitor):
    no_email = {"name": "Dana", "email": "", "text": "hi", "client_id": "o1"}
    no_text = {"name": "Dana", "email": "d@example.com", "text": " ", "client_id": "o2"}
    assert post(widget, "offline", no_email).status_code == 400
    assert post(widget, "offline", no_text).json()["detail"] == "Message is empty."
    assert not Conversation.objects.exists()
    visitor.refresh_from_db()
    assert not (visitor.metadata or {}).get("name")


def session_state(client, visitor):
    from wachat.widget import auth

    body = {"token": auth.issue_token(visitor.pk)}
    return client.post("/api/widget/session", body, content_type="application/json").json()


def test_an_offline_form_conversation_has_no_place_in_the_queue(client, widget, visitor):
    body = {"name": "Dana", "email": "dana@example.com", "text": "Call me back", "client_id": "o1"}
    post(widget, "offline", body)
    state = session_state(client, visitor)
    assert state["conversation"]["status"] == "waiting"
    assert state["conversation"]["offline"] is True
    assert state["wait"] is None


def test_a_live_conversation_waiting_in_the_queue_has_a_place(client, visitor):
    actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="c1")
    state = session_state(client, visitor)
    assert state["conversation"]["offline"] is False
    assert state["wait"] == {"position": 1, "minutes": None}
