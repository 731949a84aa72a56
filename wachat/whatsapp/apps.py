from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.test.signals import setting_changed


class WhatsappConfig(AppConfig):
    name = "wachat.whatsapp"
    label = "whatsapp"

    def ready(self):
        from wachat.backoffice.models import ChatSetting
        from wachat.whatsapp import credentials

        post_save.connect(credentials.forget, sender=ChatSetting, dispatch_uid="wa-creds-save")
        post_delete.connect(credentials.forget, sender=ChatSetting, dispatch_uid="wa-creds-del")
        setting_changed.connect(credentials.forget, dispatch_uid="wa-creds-settings")
