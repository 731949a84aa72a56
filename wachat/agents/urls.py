from django.urls import path

from wachat.agents import views

urlpatterns = [
    path("", views.center, name="center"),
    path("api/conversations", views.inbox, name="center-inbox"),
    path("conversations/<uuid:conversation_id>", views.conversation, name="center-conversation"),
    path("conversations/<uuid:conversation_id>/messages", views.conversation_messages),
    path("conversations/<uuid:conversation_id>/attachments", views.conversation_attachments),
]
