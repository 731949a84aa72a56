from datetime import UTC, datetime

import pytest

from wachat.backoffice.models import ChatSetting
from wachat.widget.config import within_business_hours


def test_it_serves_defaults(client, db):
    config = client.get("/api/widget/config").json()
    assert config["title"] == ""  # the widget then shows its own, translated
    assert config["color"] == "#075e54"
    assert config["prechat_fields"] == []
    assert config["whatsapp_number"] == "15550100000"
    assert config["max_chars"] == 4096


def test_admin_changes_apply_without_touching_the_snippet(client, db):
    ChatSetting.put("widget_title", "Acme Bikes")
    ChatSetting.put("widget_color", "#123456")
    ChatSetting.put("widget_position", "left")
    ChatSetting.put("widget_language", "ar")
    ChatSetting.put("widget_prechat_fields", '["name"]')
    config = client.get("/api/widget/config").json()
    assert config["title"] == "Acme Bikes"
    assert (config["color"], config["position"]) == ("#123456", "left")
    assert config["language"] == "ar"
    assert config["prechat_fields"] == ["name"]


def test_the_launcher_follows_the_primary_colour_unless_set_apart(client, db):
    ChatSetting.put("widget_color", "#123456")
    config = client.get("/api/widget/config").json()
    assert (config["color"], config["launcher_color"]) == ("#123456", "#123456")
    ChatSetting.put("widget_launcher_color", "#abcdef")
    config = client.get("/api/widget/config").json()
    assert (config["color"], config["launcher_color"]) == ("#123456", "#abcdef")


def test_the_launcher_colour_defaults_to_the_default_primary(client, db):
    ChatSetting.put("widget_color", "not a colour")
    ChatSetting.put("widget_launcher_color", "red")
    config = client.get("/api/widget/config").json()
    assert (config["color"], config["launcher_color"]) == ("#075e54", "#075e54")


def test_unsafe_or_unreadable_values_fall_back_to_defaults(client, db):
    ChatSetting.put("widget_color", "red;background:url(//evil)")
    ChatSetting.put("widget_language", "xx")
    ChatSetting.put("widget_prechat_fields", "name, password")
    ChatSetting.put("widget_business_hours", "{not json")
    config = client.get("/api/widget/config").json()
    assert config["color"] == "#075e54"
    assert config["language"] == "en"
    assert config["prechat_fields"] == ["name"]
    assert config["business_hours"] == {}


def test_offline_when_nobody_is_online(client, db):
    assert client.get("/api/widget/config").json()["offline"] is True


def test_online_with_an_agent_in_business_hours(client, bob):
    config = client.get("/api/widget/config").json()
    assert (config["agents_online"], config["open"], config["offline"]) == (True, True, False)


def test_offline_outside_business_hours_even_with_agents(client, bob):
    ChatSetting.put("widget_business_hours", '{"timezone": "UTC", "days": {}}')
    config = client.get("/api/widget/config").json()
    assert (config["open"], config["offline"]) == (False, True)


def test_business_hours_follow_the_configured_time_zone():
    hours = {"timezone": "Asia/Dubai", "days": {"wed": ["09:00", "17:00"]}}
    # Wednesday 2026-11-25 04:59 UTC is 08:59 in Dubai; 05:00 UTC is 09:00.
    assert not within_business_hours(hours, datetime(2026, 11, 25, 4, 59, tzinfo=UTC))
    assert within_business_hours(hours, datetime(2026, 11, 25, 5, 0, tzinfo=UTC))
    assert not within_business_hours(hours, datetime(2026, 11, 25, 13, 0, tzinfo=UTC))
    assert not within_business_hours(hours, datetime(2026, 11, 26, 6, 0, tzinfo=UTC))  # thursday


@pytest.mark.parametrize(
    "value, sound", [(None, False), ("true", True), ("on", True), ("1", True), ("no", False)]
)
def test_the_new_message_sound_is_off_unless_turned_on(client, db, value, sound):
    if value is not None:
        ChatSetting.put("widget_sound", value)
    assert client.get("/api/widget/config").json()["sound"] is sound


def test_the_favicon_is_wachats(client):
    from django.contrib.staticfiles import finders

    response = client.get("/favicon.ico")
    assert (response.status_code, response["Location"]) == (301, "/static/wachat/icon.svg")
    assert finders.find("wachat/icon.svg")
