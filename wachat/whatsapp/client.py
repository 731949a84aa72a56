"""The only code that calls the Graph API. Used by the worker, never in a web request.

https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages
"""

from functools import cache

import httpx
from django.conf import settings

from wachat.whatsapp.errors import GraphError


@cache
def http_client():
    """One pooled HTTP client per process (thread-safe); tests replace it here."""
    return httpx.Client(timeout=settings.WHATSAPP_TIMEOUT)


class GraphClient:
    def __init__(self, *, base_url=None, token=None, phone_number_id=None, http=None):
        self.base_url = f"{base_url or settings.WHATSAPP_GRAPH_URL}/{settings.WHATSAPP_API_VERSION}"
        self.token = token or settings.WHATSAPP_ACCESS_TOKEN
        self.phone_number_id = phone_number_id or settings.WHATSAPP_PHONE_NUMBER_ID
        self.http = http or http_client()

    def send_text(self, to, body, *, reply_to=None):
        """Send a text message; returns its wamid."""
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "text",
            "text": {"body": body, "preview_url": False},
        }
        if reply_to:
            payload["context"] = {"message_id": reply_to}
        return self._post_message(payload)

    def _post_message(self, payload):
        data = self._request("POST", f"{self.phone_number_id}/messages", json=payload)
        return data["messages"][0]["id"]

    def _request(self, method, path, **kwargs):
        try:
            response = self.http.request(
                method,
                f"{self.base_url}/{path}",
                headers={"Authorization": f"Bearer {self.token}"},
                **kwargs,
            )
        except httpx.TimeoutException as exc:
            raise GraphError(message=str(exc) or "timeout", timeout=True) from exc
        except httpx.TransportError as exc:
            raise GraphError(message=f"cannot reach the Graph API: {exc}", http_status=503) from exc
        if response.status_code >= 400:
            raise GraphError.from_response(response)
        try:
            return response.json()
        except ValueError as exc:
            raise GraphError(
                message="the Graph API answered with invalid JSON", http_status=502
            ) from exc
