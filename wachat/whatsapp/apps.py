from django.apps import AppConfig


class WhatsappConfig(AppConfig):
    name = "wachat.whatsapp"
    label = "whatsapp"
