from django.urls import path

from wachat.realtime.consumers import AgentConsumer, WidgetConsumer

websocket_urlpatterns = [
    path("ws/widget/", WidgetConsumer.as_asgi()),
    path("ws/agent/", AgentConsumer.as_asgi()),
]
