"""Per-visitor and per-IP rate limits for the widget's writes, counted in Django's cache.

Fixed windows: cheap and good enough to stop a flood. With several web processes and
the default local-memory cache each process counts alone; point CACHES at Redis to share
the counts.
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

MESSAGE = "You are sending messages too fast. Please wait a moment."


@dataclass(frozen=True)
class Limited:
    retry_after: int
    detail: str = MESSAGE


def check(kind, *, visitor_id=None, ip=None):
    """Count one `kind` action ("message", "session", ...); a Limited when over a limit."""
    limits = settings.WIDGET_RATE_LIMITS[kind]
    keys = []
    if visitor_id and "visitor" in limits:
        keys.append(("visitor", visitor_id, *limits["visitor"]))
    if ip and "ip" in limits:
        keys.append(("ip", ip, *limits["ip"]))
    now = int(time.time())
    for scope, who, count, window in keys:
        bucket = now // window
        key = f"wachat:rl:{kind}:{scope}:{who}:{bucket}"
        cache.add(key, 0, timeout=window + 1)
        try:
            used = cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, timeout=window + 1)
            used = 1
        if used > count:
            return Limited(retry_after=(bucket + 1) * window - now or 1)
    return None


def client_ip(meta):
    """REMOTE_ADDR; behind a proxy set WIDGET_TRUST_X_FORWARDED_FOR to use its first hop."""
    forwarded = meta.get("HTTP_X_FORWARDED_FOR", "")
    if settings.WIDGET_TRUST_X_FORWARDED_FOR and forwarded:
        return forwarded.split(",")[0].strip()[:45]
    return meta.get("REMOTE_ADDR", "")[:45]
