from django.apps import AppConfig


class EmulatorConfig(AppConfig):
    name = "wachat.whatsapp.emulator"
    label = "emulator"
    verbose_name = "WhatsApp emulator"
