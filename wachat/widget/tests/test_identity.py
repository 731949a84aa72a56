import json
import time

from wachat.conversations import actions
from wachat.conversations.models import Conversation
from wachat.widget import auth

SECRET = "site-secret"


def identify(client, token, user_id, *, timestamp=None, signature=None):
    timestamp = int(time.time()) if timestamp is None else timestamp
    body = {
        "user_id": user_id,
        "timestamp": timestamp,
        "signature": signature or auth.identity_signature(user_id, timestamp, SECRET),
    }
    return client.post(
        "/api/widget/identify",
        json.dumps(body),
        content_type="application/json",
        headers={"X-WaChat-Token": token},
    )


def test_a_verified_user_gets_their_history_on_a_second_device(client, db, settings):
    settings.WIDGET_IDENTITY_SECRET = SECRET
    laptop = actions.touch_visitor_session(session_id="laptop")
    actions.send_visitor_message(visitor_session=laptop, text="from the laptop", client_id="1")
    assert identify(client, auth.issue_token("laptop"), "user-42").json()["session_id"] == "laptop"

    phone = actions.touch_visitor_session(session_id="phone")
    actions.send_visitor_message(visitor_session=phone, text="from the phone", client_id="2")
    state = identify(client, auth.issue_token("phone"), "user-42").json()
    assert state["session_id"] == "laptop"
    history = client.get("/api/widget/messages", headers={"X-WaChat-Token": state["token"]})
    assert [m["content"] for m in history.json()["messages"]] == [
        "from the laptop",
        "from the phone",
    ]
    assert not Conversation.objects.filter(visitor_session_id="phone").exists()


def test_a_forged_or_expired_signature_is_refused(client, db, settings):
    settings.WIDGET_IDENTITY_SECRET = SECRET
    actions.touch_visitor_session(session_id="victim")
    identify_victim = identify(client, auth.issue_token("victim"), "user-42")
    assert identify_victim.status_code == 200
    actions.touch_visitor_session(session_id="attacker")
    token = auth.issue_token("attacker")
    forged = identify(client, token, "user-42", signature="0" * 64)
    old = int(time.time()) - 2 * 86400
    expired = identify(client, token, "user-42", timestamp=old)
    other_key = auth.identity_signature("user-42", int(time.time()), "guessed")
    wrong_key = identify(client, token, "user-42", signature=other_key)
    assert forged.json()["detail"] == "The identity signature is not valid."
    assert expired.json()["detail"] == "The identity signature has expired."
    assert wrong_key.status_code == 400
    from wachat.conversations.models import VisitorSession

    assert VisitorSession.objects.get(pk="attacker").metadata is None


def test_without_a_secret_verification_is_off(client, db, settings):
    settings.WIDGET_IDENTITY_SECRET = ""
    actions.touch_visitor_session(session_id="s")
    response = identify(client, auth.issue_token("s"), "user-42")
    assert response.status_code == 400
    assert "not set up" in response.json()["detail"]
