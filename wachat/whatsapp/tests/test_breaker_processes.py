"""The breaker's state is shared by processes: a worker process whose Graph API is down
opens it, and this process sees it open; this process closes it, and the worker sees that."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from wachat.conftest import database_url, free_port
from wachat.conversations.models import Message
from wachat.whatsapp import breaker, tasks
from wachat.whatsapp.models import CircuitBreakerState
from wachat.whatsapp.tests.conftest import run_scheduled, scheduled

pytestmark = pytest.mark.django_db(transaction=True)

WORKER = """
import django, sys
django.setup()
from wachat.whatsapp import breaker, tasks
for message_id in sys.argv[1:]:
    tasks.deliver_message.call_local(int(message_id))
row = breaker.state()
print(row.state, row.consecutive_failures, breaker.allow().allowed)
"""


def other_process(*message_ids, graph_url):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(connection.settings_dict),
        "WHATSAPP_GRAPH_URL": graph_url,
        "WHATSAPP_SEND_ATTEMPTS": "1",
        "WHATSAPP_BREAKER_THRESHOLD": "3",
        "WHATSAPP_BREAKER_COOLDOWN": "30",
        "WHATSAPP_TIMEOUT": "2",
        "HUEY_IMMEDIATE": "true",
    }
    done = subprocess.run(
        [sys.executable, "-c", WORKER, *map(str, message_ids)],
        env=env,
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def pending_messages(conversation, count):
    # Rows as the worker finds them (status pending), without handing them to a transport.
    return [
        Message.objects.create(
            conversation=conversation,
            direction="outbound",
            sender_type="agent",
            content=f"message {n}",
        )
        for n in range(count)
    ]


def test_a_breaker_opened_by_another_process_holds_sends_here_until_it_closes(
    customer_conversation, emulator, settings
):
    settings.WHATSAPP_BREAKER_COOLDOWN = 30
    down = f"http://127.0.0.1:{free_port()}/graph"  # nothing listens: connection refused
    *failing, waiting = pending_messages(customer_conversation, 4)

    assert other_process(*[m.pk for m in failing], graph_url=down) == ["open", "3", "False"]

    # This process never failed a call itself, yet holds its message.
    tasks.deliver_message(waiting.pk)
    waiting.refresh_from_db()
    assert waiting.status == "pending"
    assert scheduled() == [("deliver_message", (waiting.pk, 1, 0))]

    # After the cool-down, this process's probe succeeds (the emulator is up here)...
    CircuitBreakerState.objects.update(opened_at=timezone.now() - timedelta(seconds=31))
    run_scheduled()
    waiting.refresh_from_db()
    assert waiting.status == "sent"

    # ...and the other process sees the breaker closed.
    assert other_process(graph_url=down) == ["closed", "0", "True"]
    assert breaker.allow().allowed
