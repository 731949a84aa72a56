"""The Graph API's errors as values the caller can act on.

Codes: https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Worth another attempt later: throttling, transient and "unknown" server-side failures.
RETRYABLE_CODES = {
    1,  # API Unknown
    2,  # API Service (temporary)
    4,  # API Too Many Calls (app rate limit)
    80007,  # WABA rate limit
    130429,  # Cloud API throughput reached
    131000,  # Something went wrong
    131016,  # Service unavailable
    131056,  # Pair rate limit: too many messages to one recipient
    133004,  # Server temporarily unavailable
}

TOKEN_INVALID = 190  # expired or revoked access token: nothing works until it is replaced
WINDOW_CLOSED = 131047  # re-engagement: >24 h since the customer last wrote
PAIR_RATE_LIMIT = 131056  # one recipient, too fast: about one message per 6 s is allowed

EXPLANATIONS = {
    4: "WhatsApp is rate limiting this app; it will be retried.",
    100: "WhatsApp rejected the request as invalid.",
    190: "The WhatsApp access token is invalid or expired. Update it in the settings.",
    80007: "WhatsApp rate limit for this business account; it will be retried.",
    130429: "WhatsApp's sending throughput was reached; it will be retried.",
    131000: "WhatsApp had an unexpected error.",
    131016: "WhatsApp is temporarily unavailable.",
    131026: "The recipient cannot receive WhatsApp messages (not on WhatsApp, or old app).",
    131047: "More than 24 hours since the customer last wrote: only a template can be sent.",
    131051: "This message type is not supported.",
    131056: "Too many messages to this number in a short time; it will be retried.",
}


@dataclass(eq=False)
class GraphError(Exception):
    message: str
    code: int | None = None
    subcode: int | None = None
    http_status: int | None = None
    fbtrace_id: str | None = None
    retry_after: float | None = None  # seconds, from a Retry-After header
    timeout: bool = False
    details: str | None = None  # error_data.details: Meta's longer, human explanation

    def __str__(self):
        return f"Graph error {self.code} (HTTP {self.http_status}): {self.message}"

    @property
    def retryable(self):
        if self.code == TOKEN_INVALID:
            return False  # Meta answers some token errors with 5xx; retrying never helps
        if self.timeout or (self.http_status is not None and self.http_status >= 500):
            return True
        return self.http_status == 429 or self.code in RETRYABLE_CODES

    @property
    def server_side(self):
        """A failure of WhatsApp itself (counts towards opening the circuit breaker).

        Pair-rate limits are about one recipient, not the service, so they do not count."""
        return self.retryable and self.code != PAIR_RATE_LIMIT

    @property
    def explanation(self):
        """What the person who sent the message is told."""
        if self.timeout:
            return "WhatsApp did not answer in time."
        if self.code is not None and 132000 <= self.code < 133000:
            return "WhatsApp rejected the template (missing, paused or wrong parameters)."
        return EXPLANATIONS.get(self.code, f"WhatsApp refused the message: {self.message}")

    @classmethod
    def from_response(cls, response):
        try:
            error = response.json().get("error", {})
        except (ValueError, AttributeError):
            error = {}
        if not isinstance(error, dict):
            error = {}
        return cls(
            message=error.get("message") or response.reason_phrase or "error",
            code=error.get("code"),
            subcode=error.get("error_subcode"),
            http_status=response.status_code,
            fbtrace_id=error.get("fbtrace_id"),
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            details=(error.get("error_data") or {}).get("details"),
        )


def parse_retry_after(value, *, now=None):
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
