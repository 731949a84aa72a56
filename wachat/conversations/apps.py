from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "wachat.conversations"
    label = "conversations"
