from datetime import timedelta

from django.test import Client
from django.utils import timezone

from wachat.agents import tasks
from wachat.agents.models import CannedResponse
from wachat.backoffice.models import ChatSetting
from wachat.conversations.models import ChatAgent


def test_the_auto_away_task_follows_the_configured_inactivity(alice, bob):
    ChatAgent.objects.filter(pk=alice.pk).update(
        last_activity_at=timezone.now() - timedelta(minutes=20)
    )
    ChatSetting.put(tasks.AUTO_AWAY_SETTING, "30")
    tasks.mark_idle_agents_away.call_local()
    alice.refresh_from_db()
    assert alice.status == "online"

    ChatSetting.put(tasks.AUTO_AWAY_SETTING, "15")
    tasks.mark_idle_agents_away.call_local()
    alice.refresh_from_db(), bob.refresh_from_db()
    assert (alice.status, bob.status) == ("away", "online")


def test_auto_away_can_be_turned_off(alice):
    ChatAgent.objects.filter(pk=alice.pk).update(
        last_activity_at=timezone.now() - timedelta(days=2)
    )
    ChatSetting.put(tasks.AUTO_AWAY_SETTING, "0")
    tasks.mark_idle_agents_away.call_local()
    alice.refresh_from_db()
    assert alice.status == "online"


def test_canned_responses_reach_the_center_page(bob):
    CannedResponse.objects.create(shortcut="hours", text="We are open 9-18, Monday to Friday.")
    client = Client()
    client.force_login(bob.user)
    page = client.get("/center/").content.decode()
    assert '"shortcut": "hours"' in page
    assert "We are open 9-18" in page
