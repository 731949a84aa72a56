"""What the widget shows and where it may run, read from chat_settings on every request so
an admin's change applies without touching the snippet on the site.

Each setting is one chat_settings row (`widget_<name>`); JSON values for lists and
business hours. A missing or unreadable row falls back to the default here, never to an
error: a typo in the admin must not take the chat off every page.
"""

import json
import re
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

from wachat.backoffice.models import ChatSetting
from wachat.conversations.models import ChatAgent

DEFAULTS = {
    "title": "",  # empty: the snippet's data-title, else "Chat with us" in the visitor's language
    "subtitle": "",
    "greeting": "",  # empty: the built-in greeting in the visitor's language
    "color": "#075e54",  # header, send button (white text on it: contrast 7.7:1)
    # Empty: the primary colour, so changing `color` alone recolours the whole widget.
    "launcher_color": "",
    "position": "right",
    "language": "en",
    # Fields the pre-chat form asks for, e.g. ["name", "email", "phone"]; name is then
    # required. Off by default so the snippet works with no setup.
    "prechat_fields": [],
    # {"timezone": "Europe/Paris", "days": {"mon": ["09:00", "18:00"], ...}}; {} = always open.
    "business_hours": {},
    "allowed_origins": [],
    # A short tone when an agent answers while the chat is closed or the tab hidden
    # (never before the visitor has interacted with the page).
    "sound": False,
}
PRECHAT_FIELDS = {"name", "email", "phone"}
LANGUAGES = {"en", "ar"}
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")  # goes into CSS: nothing but a hex colour
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def setting(name):
    """The admin's value for `name`, parsed and checked, else the default."""
    default = DEFAULTS[name]
    raw = ChatSetting.get(f"widget_{name}", None)
    if raw is None or raw == "":
        return default
    if isinstance(default, str):
        return raw.strip()
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    try:
        value = json.loads(raw)
    except ValueError:
        # Lists may also be written comma-separated in the admin.
        if isinstance(default, list):
            return [item.strip() for item in raw.split(",") if item.strip()]
        return default
    return value if isinstance(value, type(default)) else default


def widget_config(now=None):
    """The public configuration the widget fetches on load (no secrets in here)."""
    color = setting("color")
    color = color if COLOR.match(color) else DEFAULTS["color"]
    launcher = setting("launcher_color")
    language = setting("language")
    hours = setting("business_hours")
    return {
        "title": setting("title")[:80],
        "subtitle": setting("subtitle")[:120],
        "greeting": setting("greeting")[:500],
        "color": color,
        "launcher_color": launcher if COLOR.match(launcher) else color,
        "position": "left" if setting("position") == "left" else "right",
        "language": language if language in LANGUAGES else "en",
        "prechat_fields": [f for f in setting("prechat_fields") if f in PRECHAT_FIELDS],
        "business_hours": hours,
        **availability(hours, now),
        "whatsapp_number": settings.WHATSAPP_BUSINESS_NUMBER,
        "max_chars": settings.WIDGET_MAX_MESSAGE_CHARS,
        "max_file_bytes": settings.WACHAT_ATTACHMENT_MAX_BYTES,
        "sound": setting("sound"),
    }


def availability(hours=None, now=None):
    """Whether live chat is on now: `offline` (the offline form instead of live chat) when
    outside business hours or nobody is online to answer."""
    open_now = within_business_hours(setting("business_hours") if hours is None else hours, now)
    agents_online = ChatAgent.objects.filter(status=ChatAgent.Status.ONLINE).exists()
    return {
        "open": open_now,
        "agents_online": agents_online,
        "offline": not (open_now and agents_online),
    }


def within_business_hours(hours, now=None):
    """True when `hours` is empty (always open) or `now` falls in today's opening span."""
    if not hours or not isinstance(hours.get("days"), dict):
        return True
    try:
        zone = ZoneInfo(str(hours.get("timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = (now or datetime.now(tz=zone)).astimezone(zone)
    span = hours["days"].get(DAYS[local.weekday()])
    if not (isinstance(span, list) and len(span) == 2 and all(HHMM.match(str(t)) for t in span)):
        return False  # a day not listed is closed
    return span[0] <= local.strftime("%H:%M") < span[1]


def allowed_origins():
    """Origins the widget may be embedded on: WIDGET_ALLOWED_ORIGINS plus the admin's list."""
    return {_origin(o) for o in [*settings.WIDGET_ALLOWED_ORIGINS, *setting("allowed_origins")]}


def is_allowed_origin(origin, own_origins=()):
    """No Origin (not a browser, or same-origin GET) is allowed: the token still applies.
    The server's own origins (PUBLIC_URL, the Host it was reached on) always are."""
    if not origin:
        return True
    origin = _origin(origin)
    own = {_origin(settings.PUBLIC_URL), *(_origin(o) for o in own_origins)}
    if origin in own:
        return True
    allowed = allowed_origins()
    return "*" in allowed or origin in allowed


def _origin(url):
    url = url.strip().rstrip("/").lower()
    if url == "*":
        return url
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else url
