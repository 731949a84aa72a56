import json

from wachat.conversations.models import Conversation, Message


def post(widget, body, **headers):
    data = body if isinstance(body, str) else json.dumps(body)
    return widget.post(
        "/api/widget/messages", data, content_type="application/json", headers=headers
    )


def test_it_sends_a_message(widget, visitor):
    response = post(widget, {"client_id": "c1", "text": "Hello"})
    assert response.status_code == 201
    assert response.json()["content"] == "Hello"
    assert Message.objects.get().conversation.visitor_session == visitor


def test_a_retry_with_the_same_client_id_creates_nothing(widget):
    first = post(widget, {"client_id": "c1", "text": "Hello"}).json()
    again = post(widget, {"client_id": "c1", "text": "Hello"})
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert Message.objects.count() == 1


def test_empty_text_is_refused_and_nothing_is_stored(widget):
    response = post(widget, {"client_id": "c1", "text": "   \n "})
    assert response.status_code == 400
    assert response.json()["detail"] == "Message is empty."
    assert not Conversation.objects.exists()
    assert not Message.objects.exists()


def test_oversize_text_is_refused_and_nothing_is_stored(widget):
    response = post(widget, {"client_id": "c1", "text": "x" * 4097})
    assert response.status_code == 400
    assert "limit is 4096" in response.json()["detail"]
    assert not Conversation.objects.exists()
    assert post(widget, {"client_id": "c2", "text": "x" * 4096}).status_code == 201


def test_malformed_json_gets_a_clear_error(widget):
    response = post(widget, "{not json")
    assert response.status_code == 400
    assert response.json()["detail"] == "Cannot parse request body"
    for body in ['{"client_id": "c1"}', '{"client_id": 5, "text": []}']:
        response = post(widget, body)
        assert response.status_code == 400, body
        assert response.json()["detail"].startswith("Malformed request")
    assert not Message.objects.exists()


def test_a_long_client_id_is_refused(widget):
    assert post(widget, {"client_id": "x" * 65, "text": "hi"}).status_code == 400


def test_no_token_no_message(client, db):
    response = client.post(
        "/api/widget/messages", {"client_id": "c", "text": "hi"}, content_type="application/json"
    )
    assert response.status_code == 401
    assert not Message.objects.exists()


def test_text_is_stored_as_given_not_as_html(widget):
    post(widget, {"client_id": "c1", "text": "<img src=x onerror=alert(1)>"})
    assert Message.objects.get().content == "<img src=x onerror=alert(1)>"


def test_a_visitor_sending_too_fast_is_told_to_wait(widget, settings):
    settings.WIDGET_RATE_LIMITS = {**settings.WIDGET_RATE_LIMITS, "message": {"visitor": (3, 60)}}
    codes = [post(widget, {"client_id": f"c{i}", "text": "hi"}).status_code for i in range(4)]
    assert codes == [201, 201, 201, 429]
    refused = post(widget, {"client_id": "c9", "text": "hi"}).json()
    assert refused["detail"] == "You are sending messages too fast. Please wait a moment."
    assert 1 <= refused["retry_after"] <= 60
    assert Message.objects.count() == 3


def test_one_ip_is_limited_across_visitors(client, db, settings):
    from wachat.conversations import actions
    from wachat.widget import auth

    settings.WIDGET_RATE_LIMITS = {**settings.WIDGET_RATE_LIMITS, "message": {"ip": (2, 60)}}
    codes = []
    for i in range(3):
        session = actions.touch_visitor_session(session_id=f"v{i}")
        response = client.post(
            "/api/widget/messages",
            {"client_id": "c", "text": "hi"},
            content_type="application/json",
            headers={"X-WaChat-Token": auth.issue_token(session.pk)},
        )
        codes.append(response.status_code)
    assert codes == [201, 201, 429]


def test_latest_50_first_then_older_on_scroll(widget, visitor):
    from wachat.conversations import actions

    for i in range(120):
        actions.send_visitor_message(visitor_session=visitor, text=f"m{i}", client_id=f"c{i}")
    latest = widget.get("/api/widget/messages").json()
    assert [m["content"] for m in latest["messages"]] == [f"m{i}" for i in range(70, 120)]
    assert latest["has_more"] is True
    oldest_id = latest["messages"][0]["id"]
    older = widget.get(f"/api/widget/messages?before={oldest_id}").json()
    assert [m["content"] for m in older["messages"]] == [f"m{i}" for i in range(20, 70)]
    assert older["has_more"] is True
    rest = widget.get(f"/api/widget/messages?before={older['messages'][0]['id']}").json()
    assert [m["content"] for m in rest["messages"]] == [f"m{i}" for i in range(20)]
    assert rest["has_more"] is False


def test_resume_returns_only_what_came_after(widget):
    ids = [post(widget, {"client_id": f"c{i}", "text": f"m{i}"}).json()["id"] for i in range(5)]
    after = widget.get(f"/api/widget/messages?after={ids[2]}").json()["messages"]
    assert [m["id"] for m in after] == ids[3:]


def test_another_visitors_messages_are_not_shown(widget, client, db):
    from wachat.conversations import actions
    from wachat.widget import auth

    other = actions.touch_visitor_session(session_id="other")
    actions.send_visitor_message(visitor_session=other, text="secret", client_id="x")
    assert widget.get("/api/widget/messages").json()["messages"] == []
    forged = client.get("/api/widget/messages", headers={"X-WaChat-Token": "other"})
    assert forged.status_code == 401
    assert auth.session_id_from_token(auth.issue_token("other") + "x") is None


def test_history_has_agent_replies_but_not_private_notes(widget, visitor, bob):
    from wachat.conversations import actions

    message, _ = actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="c1")
    conversation = message.conversation
    actions.send_agent_message(conversation=conversation, agent=bob, text="Hello!", client_id="a1")
    actions.add_note(conversation=conversation, agent=bob, text="VIP customer", client_id="n1")
    latest = [m["content"] for m in widget.get("/api/widget/messages").json()["messages"]]
    resumed = widget.get(f"/api/widget/messages?after={message.pk}").json()["messages"]
    assert latest == ["hi", "Hello!"]
    assert [m["content"] for m in resumed] == ["Hello!"]


def test_tap_to_retry_puts_a_failed_message_back_in_the_outbox(widget, visitor):
    from wachat.conversations import actions

    message, _ = actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="c1")
    actions.record_failed(message=message, reason="Agent's WhatsApp unreachable")
    response = widget.post(f"/api/widget/messages/{message.pk}/retry", {}, "application/json")
    assert response.status_code == 200
    assert response.json()["id"] == message.pk
    message.refresh_from_db()
    assert message.status != "failed"
    assert message.metadata["previous_error"]["reason"] == "Agent's WhatsApp unreachable"
    assert Message.objects.filter(sender_type="visitor").count() == 1


def test_retry_of_someone_elses_message_is_not_found(widget, db):
    from wachat.conversations import actions

    other = actions.touch_visitor_session(session_id="other")
    message, _ = actions.send_visitor_message(visitor_session=other, text="hi", client_id="c1")
    actions.record_failed(message=message, reason="x")
    response = widget.post(f"/api/widget/messages/{message.pk}/retry", {}, "application/json")
    assert response.status_code == 404
    message.refresh_from_db()
    assert message.status == "failed"
