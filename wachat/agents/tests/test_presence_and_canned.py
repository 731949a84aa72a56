import io
from datetime import timedelta

from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from wachat.agents import tasks
from wachat.agents.models import CannedResponse
from wachat.backoffice.models import ChatSetting
from wachat.conversations import actions
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


def test_the_inbox_says_how_many_conversations_going_offline_would_return(bob, visitor):
    first, _ = actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="c1")
    other = actions.touch_visitor_session(session_id="other")
    second, _ = actions.send_visitor_message(visitor_session=other, text="yo", client_id="c1")
    actions.snooze_conversation(conversation=second.conversation, by=bob, until=None)
    third = actions.touch_visitor_session(session_id="third")
    closed, _ = actions.send_visitor_message(visitor_session=third, text="bye", client_id="c1")
    actions.close_conversation(conversation=closed.conversation, by=bob)
    client = Client()
    client.force_login(bob.user)

    # The snoozed one is open too, and goes back to the queue with the first.
    assert client.get("/center/api/conversations?scope=mine").json()["open_mine"] == 2


def test_the_demo_setup_adds_canned_responses_once_and_keeps_edits(db):
    quiet = {"stdout": io.StringIO()}
    call_command("demo_setup", **quiet)
    shortcuts = list(CannedResponse.objects.values_list("shortcut", flat=True))
    assert len(shortcuts) >= 2
    CannedResponse.objects.filter(shortcut=shortcuts[0]).update(text="Edited in the admin")

    call_command("demo_setup", **quiet)

    assert list(CannedResponse.objects.values_list("shortcut", flat=True)) == shortcuts
    assert CannedResponse.objects.get(shortcut=shortcuts[0]).text == "Edited in the admin"


def test_running_the_demo_setup_again_keeps_the_demo_users_signed_in(db):
    from django.contrib.auth import get_user_model
    from django.test import Client

    quiet = {"stdout": io.StringIO()}
    call_command("demo_setup", **quiet)
    agent = Client()
    assert agent.login(username="agent", password="agent")
    assert agent.get("/center/").status_code == 200

    call_command("demo_setup", **quiet)  # the next `make run`
    assert agent.get("/center/").status_code == 200

    user = get_user_model().objects.get(username="agent")
    user.set_password("changed")  # forgotten: the printed login works again
    user.save()
    call_command("demo_setup", **quiet)
    assert Client().login(username="agent", password="agent")
