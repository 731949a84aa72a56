import pytest

from wachat.conversations import events


@pytest.fixture
def published(monkeypatch):
    """Events the actions publish, as (group, event name, event) tuples (recorded when
    published; delivery after commit is publish.py's job)."""
    sent = []

    def record(groups, event):
        sent.extend((group, event.get("event"), event) for group in groups)

    monkeypatch.setattr(events, "publish_on_commit", record)
    return sent
