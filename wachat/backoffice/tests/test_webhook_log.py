"""The webhook log is read-only; replaying events says what happened to each."""

import json
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission

from wachat.conftest import post_webhook
from wachat.conversations.models import Message
from wachat.whatsapp.models import WebhookEvent

pytestmark = pytest.mark.django_db

LIST = "/admin/whatsapp/webhookevent/"
FIXTURES = Path(__file__).resolve().parents[2] / "whatsapp" / "fixtures"


@pytest.fixture
def stored_text_webhook(client, django_capture_on_commit_callbacks):
    """A customer's text message received through the real webhook view and processed."""
    payload = json.loads((FIXTURES / "messages__text.json").read_text())
    with django_capture_on_commit_callbacks(execute=True):
        assert post_webhook(client, payload).status_code == 200
    return WebhookEvent.objects.get()


def replay(admin_client, *events):
    return admin_client.post(
        LIST,
        {"action": "replay", "_selected_action": [e.pk for e in events]},
        follow=True,
    ).content.decode()


def test_the_log_cannot_be_added_to_or_edited(admin_client, stored_text_webhook):
    event = stored_text_webhook
    assert f'href="{LIST}add/"' not in admin_client.get(LIST).content.decode()
    assert admin_client.get(f"{LIST}add/").status_code == 403
    page = admin_client.get(f"{LIST}{event.pk}/change/")
    assert page.status_code == 200  # still viewable
    body = page.content.decode()
    assert 'name="_save"' not in body
    assert 'name="_addanother"' not in body and 'name="_continue"' not in body
    admin_client.post(f"{LIST}{event.pk}/change/", {"event_type": "edited"})
    event.refresh_from_db()
    assert event.event_type != "edited"


def test_replaying_a_processed_event_says_so_and_stores_nothing_twice(
    admin_client, stored_text_webhook
):
    event = stored_text_webhook
    assert event.processed and Message.objects.count() == 1
    page = replay(admin_client, event)
    assert "Replayed 1 event(s): 1 processed." in page
    assert (
        "1 had already been processed: processing it again stored and sent nothing twice." in page
    )
    assert Message.objects.count() == 1


def test_replaying_an_event_that_still_fails_says_why(admin_client):
    event = WebhookEvent.objects.create(event_type="messages", payload={"object": "nonsense"})
    page = replay(admin_client, event)
    assert "Replayed 1 event(s): 0 processed, 1 still failing." in page
    assert "already been processed" not in page
    assert f"Still failing: #{event.pk}: malformed payload" in page
    assert "(waits for review)" in page


def test_an_admin_who_may_only_view_the_log_cannot_replay(client, bob, stored_text_webhook):
    bob.user.is_staff = True
    bob.user.save()
    bob.user.user_permissions.add(Permission.objects.get(codename="view_webhookevent"))
    client.force_login(bob.user)
    page = client.get(LIST).content.decode()
    assert f"{LIST}{stored_text_webhook.pk}/change/" in page
    assert 'value="replay"' not in page
