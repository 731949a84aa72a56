"""The circuit breaker around the Graph API, its state in the database so every web and
worker process shares it (ARCHITECTURE: CircuitBreaker).

Every transition is one conditional UPDATE, so two processes racing never both take the
half-open probe and failures are counted, not overwritten.
"""

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from wachat.whatsapp import credentials
from wachat.whatsapp.models import CircuitBreakerState

GRAPH = "graph"
State = CircuitBreakerState.State


@dataclass
class Decision:
    allowed: bool
    wait: float = 0.0  # seconds until asking again makes sense
    broken: str = ""  # the token error, when the connection is broken


def credentials_fingerprint():
    """Changes whenever the token, phone number id or Graph URL in the settings change."""
    material = "|".join(
        [
            credentials.current().access_token,
            credentials.current().phone_number_id,
            settings.WHATSAPP_GRAPH_URL,
        ]
    )
    return hashlib.sha256(material.encode()).hexdigest()


def state(name=GRAPH):
    row, _ = CircuitBreakerState.objects.get_or_create(name=name)
    return row


def allow(name=GRAPH):
    """May this process call the Graph API now?"""
    row = state(name)
    if row.broken_credentials:
        if row.broken_credentials == credentials_fingerprint():
            return Decision(False, broken=row.broken_reason)
        # The settings changed since the token error: try the new credentials.
        CircuitBreakerState.objects.filter(pk=row.pk).update(
            broken_credentials="", broken_reason="", broken_at=None
        )
    cooldown = settings.WHATSAPP_BREAKER_COOLDOWN
    now = timezone.now()
    if row.state == State.CLOSED:
        return Decision(True)
    # Open past its cool-down, or half-open with a probe that never reported back: take
    # the probe. The UPDATE matches for exactly one of several racing processes.
    stale = now - timedelta(seconds=cooldown)
    took_probe = (
        CircuitBreakerState.objects.filter(pk=row.pk, opened_at__lte=stale)
        .filter(Q(state=State.OPEN) | Q(state=State.HALF_OPEN))
        .update(state=State.HALF_OPEN, opened_at=now)
    )
    if took_probe:
        return Decision(True)
    waited = (now - row.opened_at).total_seconds() if row.opened_at else 0
    return Decision(False, wait=max(1.0, cooldown - waited))


def record_success(name=GRAPH):
    """The API answered: close the breaker (one UPDATE that matches nothing when closed)."""
    CircuitBreakerState.objects.filter(name=name).exclude(
        state=State.CLOSED, consecutive_failures=0
    ).update(state=State.CLOSED, consecutive_failures=0, opened_at=None)


def record_failure(error, name=GRAPH):
    """A server-side failure: count it; open on the threshold, or re-open after a probe."""
    state(name)
    now = timezone.now()
    rows = CircuitBreakerState.objects.filter(name=name)
    rows.update(
        consecutive_failures=F("consecutive_failures") + 1,
        last_failure_at=now,
        last_error=str(error)[:2000],
    )
    rows.filter(state=State.HALF_OPEN).update(state=State.OPEN, opened_at=now)
    rows.filter(
        state=State.CLOSED, consecutive_failures__gte=settings.WHATSAPP_BREAKER_THRESHOLD
    ).update(state=State.OPEN, opened_at=now)


def mark_broken(error, name=GRAPH):
    """Token error (190): stop calling until the credentials in the settings change."""
    state(name)
    CircuitBreakerState.objects.filter(name=name).update(
        broken_credentials=credentials_fingerprint(),
        broken_reason=getattr(error, "explanation", str(error)),
        broken_at=timezone.now(),
        last_error=str(error)[:2000],
    )


def reset(name=GRAPH):
    """An admin says "try again now": close the breaker and forget a token error."""
    CircuitBreakerState.objects.filter(name=name).update(
        state=State.CLOSED,
        consecutive_failures=0,
        opened_at=None,
        broken_credentials="",
        broken_reason="",
        broken_at=None,
    )
