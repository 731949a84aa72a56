from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "wachat.realtime"
    label = "realtime"
