from django.contrib import admin
from unfold.admin import ModelAdmin

from wachat.agents.models import CannedResponse


@admin.register(CannedResponse)
class CannedResponseAdmin(ModelAdmin):
    list_display = ["shortcut", "text"]
    search_fields = ["shortcut", "text"]
