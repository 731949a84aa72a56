"""Presence housekeeping, run by the Huey worker."""

from datetime import timedelta

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from wachat.backoffice.models import ChatSetting
from wachat.conversations import actions, events

AUTO_AWAY_SETTING = "agent_auto_away_minutes"
AUTO_AWAY_DEFAULT_MINUTES = 10


def auto_away_after():
    """Inactivity after which an online agent becomes away (chat_settings; 0 turns it off)."""
    raw = ChatSetting.get(AUTO_AWAY_SETTING, str(AUTO_AWAY_DEFAULT_MINUTES))
    try:
        minutes = int(raw)
    except ValueError:
        minutes = AUTO_AWAY_DEFAULT_MINUTES
    return timedelta(minutes=minutes) if minutes > 0 else None


@db_periodic_task(crontab(minute="*"))
def mark_idle_agents_away():
    idle_for = auto_away_after()
    if idle_for is not None:
        actions.mark_idle_agents_away(idle_for=idle_for)


@db_periodic_task(crontab(minute="*"))
def wake_snoozed_conversations():
    """Snoozed conversations whose time has come return to the inbox."""
    actions.wake_snoozed()


@db_periodic_task(crontab(minute="*"))
def announce_availability():
    """Business hours open and close with no event: widgets hear of it within a minute.
    Also repairs a stale announcement (see events.announce_availability)."""
    events.announce_availability()
