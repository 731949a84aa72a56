from django.urls import path

from wachat.agents import views

urlpatterns = [
    path("", views.center, name="center"),
    path("conversations/<uuid:conversation_id>/messages", views.conversation_messages),
]
