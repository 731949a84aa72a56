from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from wachat.whatsapp.webhooks import whatsapp_webhook
from wachat.widget.api import api as widget_api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/widget/", widget_api.urls),
    path("webhooks/whatsapp/", whatsapp_webhook, name="whatsapp-webhook"),
    path("center/", include("wachat.agents.urls")),
    path("", include("wachat.widget.urls")),
    path("", include("wachat.ops.urls")),
]

if settings.WHATSAPP_EMULATOR:
    urlpatterns.append(path("emulator/", include("wachat.whatsapp.emulator.urls")))
