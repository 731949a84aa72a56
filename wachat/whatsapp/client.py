"""The only code that calls the Graph API. Used by the worker, never in a web request.

A thin client over httpx rather than a library (pywa was evaluated): we need eight
endpoints, our own error values and retry policy, and one seam tests can route to the
emulator. Every method returns plain values or raises GraphError.

https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages
https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media
https://developers.facebook.com/docs/whatsapp/cloud-api/reference/business-profiles
"""

import time
from dataclasses import dataclass
from functools import cache

import httpx
from django.conf import settings

from wachat.ops import metrics
from wachat.whatsapp import credentials
from wachat.whatsapp.errors import GraphError

# Upload limits the Cloud API enforces per type (we refuse earlier, with a clear reason).
# https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types
MAX_UPLOAD_BYTES = {"image": 5 * 1024 * 1024, "document": 100 * 1024 * 1024}
BUSINESS_PROFILE_FIELDS = "about,address,description,email,profile_picture_url,websites,vertical"


@cache
def http_client():
    """One pooled HTTP client per process (thread-safe); tests replace it here."""
    return httpx.Client(timeout=settings.WHATSAPP_TIMEOUT)


@dataclass
class Media:
    content: bytes
    mime_type: str
    sha256: str | None = None


class GraphClient:
    def __init__(self, *, base_url=None, token=None, phone_number_id=None, http=None):
        self.base_url = f"{base_url or settings.WHATSAPP_GRAPH_URL}/{settings.WHATSAPP_API_VERSION}"
        self.token = token or credentials.current().access_token
        self.phone_number_id = phone_number_id or credentials.current().phone_number_id
        self.http = http or http_client()

    # --- Messages ---------------------------------------------------------------------------

    def send_text(self, to, body, *, reply_to=None):
        """Send a text message; returns its wamid."""
        return self._send(to, "text", {"body": body, "preview_url": False}, reply_to=reply_to)

    def send_template(self, to, name, language, *, body_params=(), header_params=()):
        """Send an approved template (the only thing allowed outside the 24-hour window).

        Parameters are positional text values for {{1}}, {{2}}... Returns the wamid.
        https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates
        """
        components = [
            {"type": kind, "parameters": [{"type": "text", "text": str(p)} for p in params]}
            for kind, params in (("header", header_params), ("body", body_params))
            if params
        ]
        template = {"name": name, "language": {"code": language}}
        if components:
            template["components"] = components
        return self._send(to, "template", template)

    def send_image(self, to, media_id, *, caption=None, reply_to=None):
        image = {"id": media_id}
        if caption:
            image["caption"] = caption
        return self._send(to, "image", image, reply_to=reply_to)

    def send_document(self, to, media_id, *, filename=None, caption=None, reply_to=None):
        document = {"id": media_id}
        if filename:
            document["filename"] = filename  # what the recipient's phone shows and saves as
        if caption:
            document["caption"] = caption
        return self._send(to, "document", document, reply_to=reply_to)

    def send_reaction(self, to, wamid, emoji):
        """React to message `wamid` (empty emoji removes the reaction)."""
        return self._send(to, "reaction", {"message_id": wamid, "emoji": emoji})

    def mark_as_read(self, wamid):
        """Blue ticks on the customer's phone for `wamid` and everything before it."""
        payload = {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}
        data = self._request("POST", f"{self.phone_number_id}/messages", json=payload)
        return bool(data.get("success"))

    # --- Media ------------------------------------------------------------------------------

    def upload_media(self, content, *, mime_type, filename="upload"):
        """Upload bytes to WhatsApp's media store (kept 30 days); returns the media id."""
        data = self._request(
            "POST",
            f"{self.phone_number_id}/media",
            data={"messaging_product": "whatsapp", "type": mime_type},
            files={"file": (filename, content, mime_type)},
        )
        return data["id"]

    def download_media(self, media_id):
        """GET the media's short-lived URL, then the bytes (the URL, too, needs the token)."""
        info = self._request("GET", media_id)
        response = self._call("GET", info["url"])
        return Media(
            content=response.content,
            mime_type=info.get("mime_type") or response.headers.get("content-type", ""),
            sha256=info.get("sha256"),
        )

    # --- Business profile -------------------------------------------------------------------

    def get_business_profile(self):
        data = self._request(
            "GET",
            f"{self.phone_number_id}/whatsapp_business_profile",
            params={"fields": BUSINESS_PROFILE_FIELDS},
        )
        return (data.get("data") or [{}])[0]

    # --- Plumbing ---------------------------------------------------------------------------

    def _send(self, to, kind, body, *, reply_to=None):
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": kind,
            kind: body,
        }
        if reply_to:
            payload["context"] = {"message_id": reply_to}
        data = self._request("POST", f"{self.phone_number_id}/messages", json=payload)
        return data["messages"][0]["id"]

    def _request(self, method, path, **kwargs):
        response = self._call(method, f"{self.base_url}/{path}", **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise GraphError(
                message="the Graph API answered with invalid JSON", http_status=502
            ) from exc

    def _call(self, method, url, **kwargs):
        endpoint = _endpoint_label(url)
        started = time.monotonic()
        try:
            response = self.http.request(
                method, url, headers={"Authorization": f"Bearer {self.token}"}, **kwargs
            )
        except httpx.TimeoutException as exc:
            metrics.graph_requests.labels(endpoint, "timeout").inc()
            raise GraphError(message=str(exc) or "timeout", timeout=True) from exc
        except httpx.TransportError as exc:
            metrics.graph_requests.labels(endpoint, "unreachable").inc()
            raise GraphError(message=f"cannot reach the Graph API: {exc}", http_status=503) from exc
        finally:
            metrics.graph_latency.labels(endpoint).observe(time.monotonic() - started)
        outcome = "ok" if response.status_code < 400 else f"http_{response.status_code}"
        metrics.graph_requests.labels(endpoint, outcome).inc()
        if response.status_code >= 400:
            raise GraphError.from_response(response)
        return response


def _endpoint_label(url):
    """A bounded metrics label: the kind of Graph call, never an id."""
    last = url.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
    return last if last in ("messages", "media", "whatsapp_business_profile") else "other"
