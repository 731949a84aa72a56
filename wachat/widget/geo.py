"""The visitor's rough location, from headers a trusted proxy in front of WaChat sets
(Cloudflare's CF-IPCountry and CF-IPCity, for instance), as configured in
WACHAT_GEO_HEADERS. Off by default: without such a proxy, visitors could send the headers
themselves. A GeoIP database lookup is not built in."""

from django.conf import settings

FIELDS = ("country", "region", "city")
UNKNOWN = {"", "XX", "T1"}  # Cloudflare: unknown country, Tor


def configured_headers():
    """{field: header name} from WACHAT_GEO_HEADERS ("country=CF-IPCountry,city=CF-IPCity").

    Fails loudly on a malformed entry, like the rest of the settings."""
    pairs = {}
    for entry in settings.WACHAT_GEO_HEADERS:
        field, _, header = entry.partition("=")
        field, header = field.strip().lower(), header.strip()
        if field not in FIELDS or not header:
            raise ValueError(
                f"WACHAT_GEO_HEADERS: {entry!r} is not field=Header with field one of "
                f"{', '.join(FIELDS)}."
            )
        pairs[field] = header
    return pairs


def location_from_headers(headers):
    """{"country": "PT", "city": "Lisbon", ...} from the request's `headers`, or None."""
    location = {}
    for field, header in configured_headers().items():
        value = " ".join(headers.get(header, "").split())[:100]
        if value and value.upper() not in UNKNOWN:
            location[field] = value.upper() if field == "country" else value
    return location or None


def describe(location):
    """ "Lisbon, Lisboa, PT" for the agent's glance (older data may already be text)."""
    if not location or isinstance(location, str):
        return location or None
    parts = [location.get(field) for field in ("city", "region", "country")]
    return ", ".join(dict.fromkeys(part for part in parts if part)) or None
