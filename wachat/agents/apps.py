from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "wachat.agents"
    label = "agents"
