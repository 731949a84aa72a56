import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from wachat.backoffice.models import ChatSetting

pytestmark = pytest.mark.django_db


def test_an_encrypted_setting_is_not_stored_in_clear():
    ChatSetting.put("whatsapp_access_token", "EAAG-secret", encrypted=True)
    row = ChatSetting.objects.get(key="whatsapp_access_token")
    assert "EAAG-secret" not in row.value
    assert ChatSetting.get("whatsapp_access_token") == "EAAG-secret"
    assert row.masked_value == "••••••••"


def test_a_plain_setting_is_stored_as_given():
    ChatSetting.put("widget_title", "Acme Bikes")
    assert ChatSetting.objects.get(key="widget_title").value == "Acme Bikes"


def test_rotation_re_encrypts_under_the_new_key_and_old_values_still_read(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [old]
    ChatSetting.put("token", "s3cret", encrypted=True)
    before = ChatSetting.objects.get(key="token").value

    settings.ENCRYPTION_KEYS = [new, old]
    assert ChatSetting.get("token") == "s3cret"  # readable before rotation
    call_command("rotate_secrets")
    after = ChatSetting.objects.get(key="token").value
    assert after != before

    settings.ENCRYPTION_KEYS = [new]  # the old key is gone
    assert ChatSetting.get("token") == "s3cret"


def test_the_admin_never_shows_a_secret(admin_client):
    ChatSetting.put("whatsapp_app_secret", "very-secret", encrypted=True)
    row = ChatSetting.objects.get(key="whatsapp_app_secret")
    for url in [
        "/admin/backoffice/chatsetting/",
        f"/admin/backoffice/chatsetting/{row.pk}/change/",
    ]:
        response = admin_client.get(url)
        assert response.status_code == 200
        assert b"very-secret" not in response.content


def test_an_admin_sets_a_secret_without_ever_seeing_it(admin_client):
    response = admin_client.post(
        "/admin/backoffice/chatsetting/add/",
        {
            "key": "whatsapp_access_token",
            "encrypted": "on",
            "description": "",
            "new_value": "EAAG-1",
        },
    )
    assert response.status_code == 302
    row = ChatSetting.objects.get(key="whatsapp_access_token")
    assert row.encrypted and "EAAG-1" not in row.value
    assert ChatSetting.get("whatsapp_access_token") == "EAAG-1"

    # Saving again with the field empty keeps the value.
    admin_client.post(
        f"/admin/backoffice/chatsetting/{row.pk}/change/",
        {
            "key": "whatsapp_access_token",
            "encrypted": "on",
            "description": "token",
            "new_value": "",
        },
    )
    assert ChatSetting.get("whatsapp_access_token") == "EAAG-1"
