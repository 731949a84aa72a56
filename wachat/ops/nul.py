"""The NUL character (U+0000) never gets in. PostgreSQL cannot store it in text or JSON:
the write fails with a DataError, which would be a 500 and a lost message; and it never
belongs in a chat.

- HTTP requests carrying one (path, query, form fields, JSON body) are refused with 400
  by RefuseNulMiddleware, before any view runs;
- WebSocket frames carrying one get an error frame (realtime.consumers);
- webhook payloads, which must be kept whatever Meta sends, have it replaced with U+FFFD
  (whatsapp.payloads.parse_body).
"""

import re

from django.http import JsonResponse

NUL = "\x00"
REPLACEMENT = "\ufffd"
PROBLEM = "Text may not contain the NUL character (U+0000)."
# An escaped NUL in a JSON text: \u0000 after an even number of backslashes (an odd
# number would make it the literal text "\u0000", which is harmless).
JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
# Webhooks are parsed and cleaned by their own code (see above): never refused here.
EXEMPT_PATHS = ("/webhooks/whatsapp/",)


def has_nul(value):
    """Whether any string in `value` (parsed JSON: dicts, lists, strings) holds a NUL."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(item) for item in value)
    return False


def without_nul(value):
    """`value` (parsed JSON) with every NUL replaced by U+FFFD."""
    if isinstance(value, str):
        return value.replace(NUL, REPLACEMENT)
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    return value


def request_has_nul(request):
    if NUL in request.path or _querydict_has_nul(request.GET):
        return True
    if request.method not in ("POST", "PUT", "PATCH") or request.path in EXEMPT_PATHS:
        return False
    content_type = request.content_type or ""
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        # Field values only: a file's content is bytes, and may hold anything; Django
        # drops unprintable characters from file names.
        return _querydict_has_nul(request.POST)
    # Every other body here is JSON (django-ninja parses any content type as JSON), where
    # a NUL can only come escaped: a raw one is not valid JSON, which the parser refuses.
    return bool(JSON_NUL.search(request.body))


def _querydict_has_nul(data):
    return any(NUL in key or any(NUL in v for v in values) for key, values in data.lists())


class RefuseNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request_has_nul(request):
            return JsonResponse({"detail": PROBLEM}, status=400)
        return self.get_response(request)
