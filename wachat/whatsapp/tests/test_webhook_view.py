import json

import pytest

from wachat.conftest import post_webhook
from wachat.whatsapp.models import WebhookEvent

PAYLOAD = {
    "object": "whatsapp_business_account",
    "entry": [
        {
            "id": "1",
            "changes": [
                {
                    "field": "messages",
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {"display_phone_number": "1555", "phone_number_id": "1"},
                        "contacts": [{"profile": {"name": "Carol"}, "wa_id": "4915112345678"}],
                        "messages": [
                            {
                                "from": "4915112345678",
                                "id": "wamid.signature-test",
                                "timestamp": "1700000000",
                                "type": "text",
                                "text": {"body": "hello"},
                            }
                        ],
                    },
                }
            ],
        }
    ],
}


@pytest.mark.django_db(transaction=True)
def test_a_signed_webhook_is_stored_and_processed(client):
    response = post_webhook(client, PAYLOAD)
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.event_type == "messages"
    assert event.payload == PAYLOAD
    assert event.signature.startswith("sha256=")
    assert event.processed


@pytest.mark.django_db
def test_a_bad_signature_is_rejected_and_not_stored(client):
    response = post_webhook(client, PAYLOAD, secret="not-the-app-secret")
    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_a_missing_signature_is_rejected_and_not_stored(client):
    response = post_webhook(client, PAYLOAD, signature=False)
    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_a_signature_over_other_bytes_is_rejected(client):
    tampered = json.dumps(PAYLOAD).replace("hello", "HELLO").encode()
    from django.conf import settings

    from wachat.whatsapp.signature import sign

    good_for_original = sign(json.dumps(PAYLOAD).encode(), settings.WHATSAPP_APP_SECRET)
    response = post_webhook(client, tampered, signature=good_for_original)
    assert response.status_code == 403


@pytest.mark.django_db(transaction=True)
def test_signed_non_json_is_kept_for_review_not_500(client):
    response = post_webhook(client, b"{not json")
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.raw_body == "{not json"
    assert not event.processed
    assert event.needs_review
    assert "malformed" in event.error_message


@pytest.mark.django_db(transaction=True)
def test_signed_json_of_the_wrong_shape_is_kept_for_review(client):
    response = post_webhook(client, {"object": "page", "entry": "nope"})
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.event_type == "malformed"
    assert event.needs_review


@pytest.mark.django_db
def test_a_body_over_one_mebibyte_is_refused(client):
    response = post_webhook(client, b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413
    assert not WebhookEvent.objects.exists()


def test_subscription_handshake_echoes_the_challenge(db, client, settings):
    response = client.get(
        "/webhooks/whatsapp/",
        {
            "hub.mode": "subscribe",
            "hub.verify_token": settings.WHATSAPP_VERIFY_TOKEN,
            "hub.challenge": "42",
        },
    )
    assert response.status_code == 200
    assert response.content == b"42"


def test_subscription_handshake_with_a_wrong_token_fails(db, client):
    response = client.get(
        "/webhooks/whatsapp/",
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "42"},
    )
    assert response.status_code == 403


@pytest.mark.django_db
def test_a_database_failure_answers_503_so_meta_retries(client, monkeypatch):
    from django.db import OperationalError

    def database_down(**fields):
        raise OperationalError("connection refused")

    monkeypatch.setattr(WebhookEvent.objects, "create", database_down)
    response = post_webhook(client, PAYLOAD)
    assert response.status_code == 503
