from django.urls import path

from wachat.whatsapp.emulator import views

urlpatterns = [
    path("", views.phone_page, name="emulator-phone"),
    path("api/thread", views.phone_thread),
    path("api/send", views.phone_send),
    path("graph/<str:version>/<str:phone_number_id>/messages", views.graph_messages),
]
