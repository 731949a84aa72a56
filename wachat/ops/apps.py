from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "wachat.ops"
    label = "ops"
