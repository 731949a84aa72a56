import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from wachat.conversations.attachments import UploadLimit  # noqa: E402
from wachat.realtime.routing import websocket_urlpatterns  # noqa: E402
from wachat.whatsapp.ingest import WebhookIngest  # noqa: E402

application = ProtocolTypeRouter(
    {
        # POST /webhooks/whatsapp/ skips Django's request stack (see wachat/whatsapp/ingest.py);
        # uploads over the attachment limit are refused before their body is read.
        "http": UploadLimit(WebhookIngest(django_asgi_app)),
        # The widget's origin is checked against the token, not cookies; agents use the
        # session cookie, which AuthMiddlewareStack reads.
        "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
    }
)
