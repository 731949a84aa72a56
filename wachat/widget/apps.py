from django.apps import AppConfig


class WidgetConfig(AppConfig):
    name = "wachat.widget"
    label = "widget"
