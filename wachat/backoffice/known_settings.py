"""Every chat_settings key the code reads, so the Settings page can list, describe and check
them. Defaults come from the code that reads each key (wachat/widget/config.py,
wachat/agents/tasks.py); only the descriptions and the value checks live here.
"""

import json
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from wachat.agents import tasks as agent_tasks
from wachat.whatsapp import credentials
from wachat.widget import config as widget_config


@dataclass(frozen=True)
class KnownSetting:
    key: str
    description: str
    # "text", "secret" (stored encrypted, never shown), "color", "json", "bool", "number",
    # or a tuple of allowed values
    kind: object
    default: object

    @property
    def default_shown(self):
        """The default as it would be typed in the admin."""
        if self.kind == "bool":
            return "on" if self.default else "off"
        if isinstance(self.default, (list, dict)):
            return json.dumps(self.default)
        return str(self.default) if self.default != "" else "(empty)"

    @property
    def multiline(self):
        return self.kind == "json" or self.key == "widget_greeting"

    def check(self, value):
        """Raise ValidationError when `value` would be ignored (the code falls back to the
        default on a bad value: better to say so while the admin is still on the page)."""
        value = value.strip()
        if value == "":
            return  # empty: the default applies
        if self.kind == "secret":
            return
        if self.kind == "color" and not widget_config.COLOR.match(value):
            raise ValidationError('A colour is "#rrggbb", e.g. #2563eb.')
        if isinstance(self.kind, tuple) and value not in self.kind:
            raise ValidationError(f"One of: {', '.join(self.kind)}.")
        if self.kind == "bool" and value.lower() not in BOOLEANS:
            raise ValidationError("on or off (also: true/false, yes/no, 1/0).")
        if self.kind == "number" and not re.fullmatch(r"\d+", value):
            raise ValidationError("A whole number of minutes (0 turns it off).")
        if self.kind == "json":
            self._check_json(value)

    def _check_json(self, value):
        try:
            parsed = json.loads(value)
        except ValueError as error:
            if isinstance(self.default, list):
                return  # lists may be written comma-separated
            raise ValidationError(f"Not valid JSON ({error}).") from error
        if not isinstance(parsed, type(self.default)):
            expected = "a list" if isinstance(self.default, list) else "an object {…}"
            raise ValidationError(f"Expected {expected}.")


BOOLEANS = {"1", "0", "true", "false", "yes", "no", "on", "off"}

# One line per widget setting (wachat/widget/config.py DEFAULTS); a test checks none is missing.
WIDGET = {
    "title": ("Widget header title. Empty: “Chat with us” in the visitor's language.", "text"),
    "subtitle": ("Line under the widget title.", "text"),
    "greeting": ("First message visitors see. Empty: the built-in greeting.", "text"),
    "color": ("Header and send button colour, #rrggbb (white text on it).", "color"),
    "launcher_color": (
        "Colour of the round chat button, #rrggbb (white icon). Empty: the widget_color.",
        "color",
    ),
    "position": ("Corner of the page for the chat button: left or right.", ("left", "right")),
    "language": ("Widget language when the page does not set one: en or ar.", ("en", "ar")),
    "prechat_fields": (
        'Fields asked before chatting, e.g. ["name", "email", "phone"]; empty: none.',
        "json",
    ),
    "business_hours": (
        'Opening hours, e.g. {"timezone": "Europe/Paris", "days": {"mon": ["09:00", "18:00"]}};'
        " {} = always open.",
        "json",
    ),
    "allowed_origins": (
        'Websites allowed to embed the chat, e.g. ["https://www.example.com"], or comma-separated.',
        "json",
    ),
    "sound": ("Play a short tone when an agent answers while the chat is hidden.", "bool"),
}

# The WhatsApp connection (wachat/whatsapp/credentials.py): empty, the WHATSAPP_* variable.
WHATSAPP = {
    "whatsapp_access_token": "System User access token (Meta Business settings). Empty: "
    "WHATSAPP_ACCESS_TOKEN.",
    "whatsapp_phone_number_id": "Phone Number ID of the business number (WhatsApp > API "
    "Setup). Empty: WHATSAPP_PHONE_NUMBER_ID.",
    "whatsapp_app_secret": "App secret (App settings > Basic): checks every webhook's "
    "signature. Empty: WHATSAPP_APP_SECRET.",
    "whatsapp_verify_token": "The verify token you typed when subscribing the webhook. "
    "Empty: WHATSAPP_VERIFY_TOKEN.",
}

KNOWN_SETTINGS = {
    setting.key: setting
    for setting in [
        *(
            KnownSetting(f"widget_{name}", *WIDGET.get(name, ("", "text")), default=default)
            for name, default in widget_config.DEFAULTS.items()
        ),
        *(
            KnownSetting(key, WHATSAPP[key], "secret" if secret else "text", default="")
            for key, (_, _, secret) in credentials.KEYS.items()
        ),
        KnownSetting(
            agent_tasks.AUTO_AWAY_SETTING,
            "Minutes without activity before an online agent shows as away; 0 turns it off.",
            "number",
            default=agent_tasks.AUTO_AWAY_DEFAULT_MINUTES,
        ),
    ]
}
