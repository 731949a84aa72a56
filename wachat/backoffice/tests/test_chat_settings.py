import re

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from wachat.backoffice.known_settings import KNOWN_SETTINGS
from wachat.backoffice.models import ChatSetting
from wachat.widget import config as widget_config

pytestmark = pytest.mark.django_db

ADD = "/admin/backoffice/chatsetting/add/"
LIST = "/admin/backoffice/chatsetting/"


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


def test_an_admin_replaces_a_secret_without_ever_seeing_it(admin_client):
    ChatSetting.put("whatsapp_access_token", "EAAG-1", encrypted=True)
    row = ChatSetting.objects.get(key="whatsapp_access_token")
    url = f"/admin/backoffice/chatsetting/{row.pk}/change/"
    form = {"key": "whatsapp_access_token", "encrypted": "on", "description": "token"}

    page = admin_client.get(url).content.decode()
    assert 'type="password"' in page and "EAAG-1" not in page
    assert "Leave empty to keep the current value" in page

    # Saving with the box empty keeps the value.
    assert admin_client.post(url, {**form, "new_value": ""}).status_code == 302
    assert ChatSetting.get("whatsapp_access_token") == "EAAG-1"

    admin_client.post(url, {**form, "new_value": "EAAG-2"})
    row.refresh_from_db()
    assert row.encrypted and "EAAG-2" not in row.value
    assert ChatSetting.get("whatsapp_access_token") == "EAAG-2"


def test_a_setting_added_encrypted_is_stored_encrypted(admin_client):
    response = admin_client.post(
        ADD,
        {"key": "agent_auto_away_minutes", "encrypted": "on", "new_value": "25"},
    )
    assert response.status_code == 302
    row = ChatSetting.objects.get(key="agent_auto_away_minutes")
    assert row.encrypted and row.value != "25"
    assert ChatSetting.get("agent_auto_away_minutes") == "25"


# --- Discovering the settings ---------------------------------------------------------------


def test_every_widget_setting_is_described():
    for name in widget_config.DEFAULTS:
        assert KNOWN_SETTINGS[f"widget_{name}"].description, f"describe widget_{name}"


def test_the_empty_settings_page_lists_every_known_setting_with_a_link_to_set_it(admin_client):
    page = admin_client.get(LIST).content.decode()
    unset = page[page.index('id="wc-unset-settings"') :]
    for key in ["widget_allowed_origins", "widget_color", "agent_auto_away_minutes"]:
        assert f'href="{ADD}?key={key}"' in unset
    assert "#075e54" in unset  # widget_color's default
    assert "Minutes without activity" in unset


def test_a_setting_that_has_a_row_is_listed_once_not_as_unset(admin_client):
    ChatSetting.put("widget_color", "#2563eb")
    page = admin_client.get(LIST).content.decode()
    unset = page[page.index('id="wc-unset-settings"') :]
    assert "?key=widget_color" not in unset
    assert "#2563eb" in page[: page.index('id="wc-unset-settings"')]
    assert "Header and send button colour" in page  # its description, in the list


def test_the_add_form_offers_the_known_keys_prefilled_from_the_link(admin_client):
    ChatSetting.put("widget_title", "Acme")
    page = admin_client.get(ADD + "?key=widget_color").content.decode()
    assert '<option value="widget_color" selected>' in page
    assert "(default: #075e54)" in page
    assert 'value="widget_title"' not in page  # already set: changed from the list
    assert 'type="password"' not in page
    value_box = re.search(r'<input[^>]*name="new_value"[^>]*>', page).group(0)
    assert 'type="text"' in value_box and "border" in value_box  # unfold-styled, visible
    assert "Leave empty to keep" not in page


def test_json_settings_are_edited_in_a_textarea(admin_client):
    page = admin_client.get(ADD + "?key=widget_business_hours").content.decode()
    assert re.search(r'<textarea[^>]*name="new_value"', page)


def test_an_unknown_key_cannot_be_added(admin_client):
    response = admin_client.post(ADD, {"key": "widget_colour", "new_value": "#2563eb"})
    assert response.status_code == 200
    assert not ChatSetting.objects.exists()


def test_a_value_the_widget_would_ignore_is_refused(admin_client):
    response = admin_client.post(ADD, {"key": "widget_color", "new_value": "blue"})
    assert "A colour is" in response.content.decode()
    response = admin_client.post(ADD, {"key": "widget_business_hours", "new_value": "{mon"})
    assert "Not valid JSON" in response.content.decode()
    assert not ChatSetting.objects.exists()


def test_a_plain_setting_is_shown_and_edited_in_clear(admin_client):
    ChatSetting.put("widget_color", "#2563eb")
    row = ChatSetting.objects.get()
    url = f"/admin/backoffice/chatsetting/{row.pk}/change/"
    assert 'value="#2563eb"' in admin_client.get(url).content.decode()
    response = admin_client.post(url, {"key": "widget_color", "new_value": ""})
    assert response.status_code == 302
    assert ChatSetting.get("widget_color", None) == ""  # emptied: the default applies


def test_an_unknown_stored_key_stays_visible_and_editable(admin_client):
    ChatSetting.put("widget_colour", "#2563eb")  # a typo from before the key was a choice
    row = ChatSetting.objects.get()
    assert "Not a setting WaChat reads" in admin_client.get(LIST).content.decode()
    url = f"/admin/backoffice/chatsetting/{row.pk}/change/"
    assert '<option value="widget_colour" selected>' in admin_client.get(url).content.decode()
    # Fixing the typo renames the row.
    response = admin_client.post(url, {"key": "widget_color", "new_value": "#2563eb"})
    assert response.status_code == 302
    assert list(ChatSetting.objects.values_list("key", flat=True)) == ["widget_color"]
