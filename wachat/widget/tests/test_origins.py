import pytest

from wachat.backoffice.models import ChatSetting


def test_the_servers_own_origin_is_allowed(client, db):
    response = client.get("/api/widget/config", headers={"Origin": "http://testserver"})
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "http://testserver"


def test_an_unlisted_origin_is_refused(client, db):
    response = client.get("/api/widget/config", headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    # Readable by the page, so the widget can say why it does not work there.
    assert response.json()["detail"] == "This website may not use the chat."


def test_origins_from_settings_get_cors_headers(client, db, settings):
    settings.WIDGET_ALLOWED_ORIGINS = ["https://shop.example/"]
    response = client.get("/api/widget/config", headers={"Origin": "https://shop.example"})
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://shop.example"
    assert response["Vary"] == "Origin"


def test_origins_from_chat_settings_apply_at_once(client, db):
    ChatSetting.put("widget_allowed_origins", "https://a.example, https://b.example")
    for origin, status in [("https://b.example", 200), ("https://c.example", 403)]:
        assert client.get("/api/widget/config", headers={"Origin": origin}).status_code == status


def test_preflight_is_answered_for_allowed_origins(client, db, settings):
    settings.WIDGET_ALLOWED_ORIGINS = ["https://shop.example"]
    response = client.options(
        "/api/widget/messages",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 204
    assert "X-WaChat-Token" in response["Access-Control-Allow-Headers"]
    assert response["Access-Control-Allow-Origin"] == "https://shop.example"


@pytest.mark.parametrize("origin", ["https://shop.example.evil", "http://shop.example"])
def test_lookalike_origins_are_refused(client, db, settings, origin):
    settings.WIDGET_ALLOWED_ORIGINS = ["https://shop.example"]
    assert client.get("/api/widget/config", headers={"Origin": origin}).status_code == 403


def test_a_refused_origin_cannot_write(widget, settings):
    response = widget.post(
        "/api/widget/messages",
        {"client_id": "c1", "text": "hi"},
        content_type="application/json",
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    from wachat.conversations.models import Message

    assert not Message.objects.exists()


def test_other_paths_are_untouched(client, db):
    response = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
