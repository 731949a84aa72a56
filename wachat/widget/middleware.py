"""CORS for the visitor API: the widget runs on the customer's website, so its calls to
/api/widget/ are cross-origin. Only allowlisted origins (widget/config.py) get the
headers a browser needs to use the answers; any other origin is refused before the view
runs, so a page we do not serve cannot read or write as a visitor even with a stolen token."""

from django.http import HttpResponse, JsonResponse

from wachat.widget.config import is_allowed_origin

PREFIX = "/api/widget/"
ALLOW_HEADERS = "Content-Type, X-WaChat-Token"


class WidgetCorsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(PREFIX):
            return self.get_response(request)
        origin = request.headers.get("Origin")
        own = f"{request.scheme}://{request.get_host()}"
        if request.method == "OPTIONS":
            # Preflights always pass: they grant nothing by themselves, and the refusal of
            # the real request below is then readable by the widget, which can say why.
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response["Access-Control-Allow-Headers"] = ALLOW_HEADERS
            response["Access-Control-Max-Age"] = "600"
        elif not is_allowed_origin(origin, [own]):
            response = JsonResponse({"detail": "This website may not use the chat."}, status=403)
        else:
            response = self.get_response(request)
        if origin:
            response["Access-Control-Allow-Origin"] = origin
            response["Vary"] = "Origin"
        return response
