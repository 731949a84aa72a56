from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from wachat.conversations import attachments
from wachat.whatsapp.webhooks import whatsapp_webhook
from wachat.widget.api import api as widget_api

urlpatterns = [
    path("admin/", admin.site.urls),
    # Agents are not staff: they sign in here, not through the admin's login.
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(template_name="agents/login.html"),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/widget/", widget_api.urls),
    path("webhooks/whatsapp/", whatsapp_webhook, name="whatsapp-webhook"),
    path("center/", include("wachat.agents.urls")),
    # Attachments and WhatsApp media (see attachments.serve; a proxy or object storage
    # may serve MEDIA_URL instead in production).
    path(settings.MEDIA_URL.strip("/") + "/<path:name>", attachments.serve, name="media"),
    path("", include("wachat.widget.urls")),
    path("", include("wachat.ops.urls")),
]

if settings.WHATSAPP_EMULATOR:
    urlpatterns.append(path("emulator/", include("wachat.whatsapp.emulator.urls")))
