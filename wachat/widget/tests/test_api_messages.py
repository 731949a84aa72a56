import pytest

from wachat.conversations.models import Message


@pytest.fixture
def token(client, db):
    return client.post("/api/widget/session", {}, content_type="application/json").json()["token"]


def post(client, token, **data):
    return client.post(
        "/api/widget/messages",
        data,
        content_type="application/json",
        headers={"X-WaChat-Token": token},
    )


def test_a_message_is_stored_and_returned(client, token):
    response = post(client, token, client_id="c1", text="  Hello  ")
    assert response.status_code == 201
    assert response.json()["content"] == "Hello"
    assert Message.objects.get().content == "Hello"


def test_retrying_with_the_same_client_id_returns_the_first_message(client, token):
    first = post(client, token, client_id="c1", text="Hello")
    again = post(client, token, client_id="c1", text="Hello")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert Message.objects.count() == 1


def test_an_empty_message_is_refused_and_nothing_is_stored(client, token):
    response = post(client, token, client_id="c1", text="   ")
    assert response.status_code == 400
    assert response.json()["detail"] == "Message is empty."
    assert not Message.objects.exists()


def test_a_message_over_4096_characters_is_refused(client, token):
    response = post(client, token, client_id="c1", text="x" * 4097)
    assert response.status_code == 400
    assert "too long" in response.json()["detail"]
    assert not Message.objects.exists()


def test_malformed_json_is_a_client_error(client, token):
    response = client.post(
        "/api/widget/messages",
        "{",
        content_type="application/json",
        headers={"X-WaChat-Token": token},
    )
    assert 400 <= response.status_code < 500
    assert not Message.objects.exists()


def test_a_body_that_is_not_a_json_object_is_a_400(client, db):
    from wachat.conversations.models import VisitorSession

    for body in ("[1, 2]", "5", '"hi"', "null"):
        response = client.post("/api/widget/session", body, content_type="application/json")
        assert response.status_code == 400, body
        assert response.json() == {"detail": "Cannot parse request body"}
    assert not VisitorSession.objects.exists()


def test_a_forged_token_is_refused(client, db):
    response = post(client, "not-a-token", client_id="c1", text="Hello")
    assert response.status_code == 401


def test_history_lists_messages_after_an_id(client, token):
    ids = [post(client, token, client_id=f"c{i}", text=f"m{i}").json()["id"] for i in range(3)]
    response = client.get(
        "/api/widget/messages", {"after": ids[0]}, headers={"X-WaChat-Token": token}
    )
    assert [m["content"] for m in response.json()["messages"]] == ["m1", "m2"]


def test_the_openapi_schema_describes_the_widget_api(client, db):
    schema = client.get("/api/widget/openapi.json").json()
    assert {"/api/widget/session", "/api/widget/messages"} <= set(schema["paths"])
    assert "post" in schema["paths"]["/api/widget/messages"]
