from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "wachat.backoffice"
    label = "backoffice"
