"""The back office: the seed's Filament resources as Django admin pages (django-unfold)."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.templatetags.static import static
from django.urls import path
from django.utils.html import format_html
from django.views.generic import TemplateView
from unfold.admin import ModelAdmin, TabularInline
from unfold.views import UnfoldModelAdminViewMixin

from wachat.backoffice import analytics
from wachat.backoffice.models import ChatSetting
from wachat.conversations.models import ChatAgent, Conversation, Label, Message, VisitorSession
from wachat.whatsapp.models import WebhookEvent


class ChatSettingForm(forms.ModelForm):
    """The stored value is never sent to the browser; typing a new one replaces it."""

    new_value = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the current value. Encrypted values are never shown.",
    )

    class Meta:
        model = ChatSetting
        fields = ["key", "encrypted", "description"]


@admin.register(ChatSetting)
class ChatSettingAdmin(ModelAdmin):
    form = ChatSettingForm
    list_display = ["key", "shown_value", "encrypted", "updated_at"]
    search_fields = ["key"]
    readonly_fields = ["shown_value"]
    list_before_template = "backoffice/embed_snippet.html"

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "embed_snippet": embed_snippet()}
        return super().changelist_view(request, extra_context)

    @admin.display(description="value")
    def shown_value(self, obj):
        return obj.masked_value

    def save_model(self, request, obj, form, change):
        new_value = form.cleaned_data["new_value"]
        if new_value or not change:
            ChatSetting.put(
                obj.key, new_value, encrypted=obj.encrypted, description=obj.description
            )
        elif "encrypted" in form.changed_data:  # re-store the current value the new way
            ChatSetting.put(
                obj.key,
                ChatSetting.get(obj.key),
                encrypted=obj.encrypted,
                description=obj.description,
            )
        else:
            obj.save()


class MessageInline(TabularInline):
    model = Message
    extra = 0
    can_delete = False
    fields = [
        "created_at",
        "sender_type",
        "message_type",
        "content",
        "status",
        "whatsapp_message_id",
    ]
    readonly_fields = fields
    ordering = ["pk"]

    def has_add_permission(self, request, obj=None):
        return False


class AnalyticsView(UnfoldModelAdminViewMixin, TemplateView):
    """The seed's ChatAnalyticsPage."""

    title = "Analytics"
    permission_required = ("conversations.view_conversation",)
    template_name = "backoffice/analytics.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "report": analytics.report()}


@admin.register(Conversation)
class ConversationAdmin(ModelAdmin):
    list_display = [
        "code",
        "visitor_name",
        "source",
        "status",
        "agent",
        "priority",
        "satisfaction",
        "updated_at",
    ]
    list_filter = ["status", "source", "agent", "rating"]
    search_fields = ["visitor_phone_number", "messages__content"]
    # The rating is the visitor's word: shown, never edited here.
    readonly_fields = [
        "id",
        "visitor_session",
        "rating",
        "rating_comment",
        "rated_at",
        "created_at",
        "updated_at",
    ]
    inlines = [MessageInline]

    @admin.display(description="satisfaction", ordering="rating")
    def satisfaction(self, obj):
        if obj.rating is None:
            return "–"
        stars = "★" * obj.rating + "☆" * (5 - obj.rating)
        if not obj.rating_comment:
            return f"{stars} ({obj.rating}/5)"
        return format_html(
            '<span title="{}">{} ({}/5) 💬</span>', obj.rating_comment, stars, obj.rating
        )

    def get_urls(self):
        view = self.admin_site.admin_view(AnalyticsView.as_view(model_admin=self))
        return [path("analytics/", view, name="analytics")] + super().get_urls()


@admin.register(ChatAgent)
class ChatAgentAdmin(ModelAdmin):
    list_display = [
        "name",
        "status",
        "whatsapp_phone_number",
        "max_concurrent_chats",
        "auto_assign",
        "last_activity_at",
    ]
    list_filter = ["status", "auto_assign"]


class LabelForm(forms.ModelForm):
    color = forms.RegexField(regex=r"^#[0-9a-fA-F]{6}$", help_text='"#rrggbb", e.g. #2563eb')

    class Meta:
        model = Label
        fields = ["name", "color"]


@admin.register(Label)
class LabelAdmin(ModelAdmin):
    """Agents create labels from the Conversation Center too, by typing a new name."""

    form = LabelForm
    list_display = ["name", "color", "created_at"]
    search_fields = ["name"]


@admin.register(VisitorSession)
class VisitorSessionAdmin(ModelAdmin):
    list_display = ["id", "ip_address", "referrer", "utm_source", "page_views", "last_activity_at"]
    search_fields = ["id", "ip_address"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ModelAdmin):
    list_display = ["id", "event_type", "processed", "retry_count", "error_message", "created_at"]
    list_filter = ["processed", "event_type"]
    readonly_fields = [f.name for f in WebhookEvent._meta.fields]
    actions = ["replay"]

    @admin.action(description="Replay the selected events")
    def replay(self, request, queryset):
        from wachat.whatsapp.tasks import process_webhook_event

        count = 0
        for event in queryset.filter(processed=False):
            event.retry_count = 0
            event.save(update_fields=["retry_count"])
            process_webhook_event(event.pk)
            count += 1
        messages.info(request, f"{count} event(s) queued for processing.")


# --- WhatsApp connection: circuit breaker and token state (issue 4) -------------------------

from wachat.whatsapp.models import CircuitBreakerState  # noqa: E402


@admin.register(CircuitBreakerState)
class CircuitBreakerStateAdmin(ModelAdmin):
    """Whether WaChat can reach WhatsApp now, as every web and worker process sees it."""

    list_display = [
        "name",
        "connection",
        "state",
        "consecutive_failures",
        "opened_at",
        "last_failure_at",
        "last_error",
    ]
    readonly_fields = [f.name for f in CircuitBreakerState._meta.fields if f.name != "id"]
    exclude = ["broken_credentials"]
    actions = ["close_breaker"]

    @admin.display(description="connection")
    def connection(self, obj):
        from wachat.whatsapp.breaker import credentials_fingerprint

        if obj.broken_credentials == credentials_fingerprint():
            return f"Broken: {obj.broken_reason}"
        if obj.state != CircuitBreakerState.State.CLOSED:
            return "Paused: WhatsApp is failing; messages wait and are retried"
        return "OK"

    def has_add_permission(self, request):
        return False

    @admin.action(description="Close the breaker and clear a token error (retry now)")
    def close_breaker(self, request, queryset):
        from wachat.whatsapp import breaker

        for row in queryset:
            breaker.reset(row.name)
        messages.info(request, "WhatsApp connection reset; pending messages go out on retry.")


# --- Embedding the widget -------------------------------------------------------------------


def embed_snippet():
    """The one line website owners paste before </body>, with this server's address."""
    src = static("wachat/widget.js")
    if not src.startswith(("http://", "https://", "//")):
        src = settings.PUBLIC_URL + src
    return f'<script async src="{src}"></script>'
