from django.urls import path

from wachat.whatsapp.emulator import views

urlpatterns = [
    path("", views.phone_page, name="emulator-phone"),
    path("api/thread", views.phone_thread),
    path("api/send", views.phone_send),
    path("api/media/<str:media_id>", views.phone_media),
    path("api/faults", views.fault_knobs),
    path("api/window", views.window_knob),
    path("media/<str:media_id>", views.media_download),
    path("graph/<str:version>/<str:phone_number_id>/messages", views.graph_messages),
    path("graph/<str:version>/<str:phone_number_id>/media", views.graph_media_upload),
    path(
        "graph/<str:version>/<str:phone_number_id>/whatsapp_business_profile",
        views.graph_business_profile,
    ),
    path("graph/<str:version>/<str:media_id>", views.graph_media),
]
