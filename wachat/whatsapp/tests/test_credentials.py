"""The WhatsApp credentials can be set in the admin (secrets encrypted, never shown) and
then win over the environment: for Graph calls, webhook signatures and the verify
handshake. A token error stops sending until the token in the settings changes."""

import pytest
from django.conf import settings

from wachat.backoffice.models import ChatSetting
from wachat.conftest import post_webhook
from wachat.conversations import actions
from wachat.conversations.models import Message
from wachat.whatsapp import breaker, credentials
from wachat.whatsapp.models import WebhookEvent
from wachat.whatsapp.signature import sign
from wachat.whatsapp.tests import test_ingest
from wachat.whatsapp.tests.conftest import fixture

pytestmark = pytest.mark.django_db(transaction=True)

ADD_URL = "/admin/backoffice/chatsetting/add/"


def test_the_environment_applies_until_the_admin_sets_a_value():
    assert credentials.current().app_secret == settings.WHATSAPP_APP_SECRET
    ChatSetting.put("whatsapp_app_secret", "from-the-admin", encrypted=True)
    assert credentials.current().app_secret == "from-the-admin"  # saving cleared the copy
    ChatSetting.objects.filter(key="whatsapp_app_secret").delete()
    assert credentials.current().app_secret == settings.WHATSAPP_APP_SECRET


def test_an_admin_enters_a_secret_it_is_stored_encrypted_and_never_shown(client, admin_user):
    client.force_login(admin_user)
    form = client.get(ADD_URL, {"key": "whatsapp_access_token"}).content.decode()
    assert 'type="password"' in form

    answer = client.post(ADD_URL, {"key": "whatsapp_access_token", "new_value": "EAAG-new"})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    row = ChatSetting.objects.get(key="whatsapp_access_token")
    assert row.encrypted and "EAAG-new" not in row.value
    assert credentials.current().access_token == "EAAG-new"
    page = client.get("/admin/backoffice/chatsetting/").content.decode()
    assert "EAAG-new" not in page


def test_webhooks_are_checked_with_the_admins_app_secret(client, bob):
    ChatSetting.put("whatsapp_app_secret", "rotated-secret", encrypted=True)
    payload = fixture("messages__text")

    assert post_webhook(client, payload).status_code == 403  # the environment's: refused
    assert post_webhook(client, payload, secret="rotated-secret").status_code == 200
    # The raw ASGI path Meta's traffic takes in production, too.
    body = test_ingest.json.dumps(payload).encode()
    old = test_ingest.post(body, {"X-Hub-Signature-256": sign(body, settings.WHATSAPP_APP_SECRET)})
    new = test_ingest.post(body, {"X-Hub-Signature-256": sign(body, "rotated-secret")})
    assert (old.status_code, new.status_code) == (403, 200)
    assert WebhookEvent.objects.count() == 2


def test_the_verify_handshake_uses_the_admins_token(client):
    ChatSetting.put("whatsapp_verify_token", "typed-at-meta", encrypted=True)
    query = {"hub.mode": "subscribe", "hub.challenge": "42"}
    assert (
        client.get("/webhooks/whatsapp/", {**query, "hub.verify_token": "typed-at-meta"}).content
        == b"42"
    )
    wrong = client.get(
        "/webhooks/whatsapp/", {**query, "hub.verify_token": settings.WHATSAPP_VERIFY_TOKEN}
    )
    assert wrong.status_code == 403


def test_a_wrong_token_breaks_the_connection_until_the_admin_fixes_it(alice, visitor, emulator):
    ChatSetting.put("whatsapp_access_token", "a-typo", encrypted=True)
    first, _ = actions.send_visitor_message(visitor_session=visitor, text="one", client_id="1")
    first.refresh_from_db()
    assert first.status == Message.Status.FAILED  # Graph said 190: the token is wrong
    assert not breaker.allow().allowed

    ChatSetting.put("whatsapp_access_token", settings.WHATSAPP_ACCESS_TOKEN, encrypted=True)
    assert breaker.allow().allowed  # new credentials: try again
    second, _ = actions.send_visitor_message(visitor_session=visitor, text="two", client_id="2")
    second.refresh_from_db()
    assert second.status == Message.Status.SENT


def test_unreadable_credentials_answer_503_so_meta_delivers_again(client, monkeypatch):
    from django.db import OperationalError

    def down(*args, **kwargs):
        raise OperationalError("the database is down")

    monkeypatch.setattr(credentials, "current", down)
    body, headers = test_ingest.signed(fixture("messages__text"))
    assert test_ingest.post(body, headers).status_code == 503
    assert post_webhook(client, fixture("messages__text")).status_code == 503
