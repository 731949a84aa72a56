"""The back office: the seed's Filament resources as Django admin pages (django-unfold)."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.templatetags.static import static
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.views.generic import TemplateView
from unfold.admin import ModelAdmin, TabularInline
from unfold.views import UnfoldModelAdminViewMixin
from unfold.widgets import (
    UnfoldAdminPasswordWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from wachat.backoffice import analytics
from wachat.backoffice.known_settings import KNOWN_SETTINGS
from wachat.backoffice.models import ChatSetting
from wachat.conversations.models import ChatAgent, Conversation, Label, Message, VisitorSession
from wachat.whatsapp.models import WebhookEvent


class ChatSettingForm(forms.ModelForm):
    """Key: one of the settings WaChat reads (or the unknown key a row already has).
    Value: shown and edited as text, except an encrypted one, which is never sent to the
    browser: typing a new one replaces it, leaving the box empty keeps it."""

    key = forms.ChoiceField(widget=UnfoldAdminSelectWidget)
    new_value = forms.CharField(label="Value", required=False, strip=False)

    class Meta:
        model = ChatSetting
        fields = ["key", "encrypted", "description"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        row = self.instance
        adding = row.pk is None
        self.was_encrypted = not adding and row.encrypted  # the form overwrites row.encrypted
        taken = set(ChatSetting.objects.exclude(pk=row.pk).values_list("key", flat=True))
        choices = [(key, label(known)) for key, known in KNOWN_SETTINGS.items()]
        if adding:
            choices = [choice for choice in choices if choice[0] not in taken]
        elif row.key not in KNOWN_SETTINGS:
            choices.append((row.key, f"{row.key} (not a setting WaChat reads)"))
        self.fields["key"].choices = [("", "Choose a setting…"), *choices]
        if adding:
            self.fields["key"].help_text = "Settings already set are changed from the list."
        self.fields["encrypted"].help_text = "For secrets: the value is then never shown again."
        self.fields["description"].help_text = "Your own note about this setting (optional)."
        self.fields["description"].widget.attrs["rows"] = 2

        key = self.data.get("key") or self.initial.get("key") or row.key
        known = KNOWN_SETTINGS.get(key)
        value = self.fields["new_value"]
        if known and known.kind == "secret" and not self.was_encrypted:
            value.widget = UnfoldAdminPasswordWidget()
            value.help_text = f"{known.description} Stored encrypted, never shown again."
        elif self.was_encrypted:
            value.widget = UnfoldAdminPasswordWidget()
            value.help_text = "Encrypted: never shown. Leave empty to keep the current value."
        else:
            if not adding:
                self.initial["new_value"] = row.value
            multiline = known.multiline if known else "\n" in row.value or len(row.value) > 80
            value.widget = (
                UnfoldAdminTextareaWidget(attrs={"rows": 4})
                if multiline
                else UnfoldAdminTextInputWidget()
            )
            if known:
                value.help_text = f"{known.description} Empty: the default ({known.default_shown})."

    def clean(self):
        cleaned = super().clean()
        known = KNOWN_SETTINGS.get(cleaned.get("key"))
        value = cleaned.get("new_value", "")
        if known and value and not self.keeps_secret:
            try:
                known.check(value)
            except forms.ValidationError as error:
                self.add_error("new_value", error)
        return cleaned

    @property
    def keeps_secret(self):
        """An encrypted row saved with the Value box left empty keeps its value."""
        return self.was_encrypted and not self.data.get("new_value")


def label(known):
    return f"{known.key}: {known.description} (default: {known.default_shown})"


@admin.register(ChatSetting)
class ChatSettingAdmin(ModelAdmin):
    form = ChatSettingForm
    fields = ["key", "new_value", "encrypted", "description"]
    list_display = ["key", "about", "shown_value", "encrypted", "updated_at"]
    search_fields = ["key"]
    list_before_template = "backoffice/embed_snippet.html"
    list_after_template = "backoffice/unset_settings.html"

    def changelist_view(self, request, extra_context=None):
        stored = set(ChatSetting.objects.values_list("key", flat=True))
        add_url = reverse("admin:backoffice_chatsetting_add")
        unset = [
            {"setting": known, "add_url": f"{add_url}?{urlencode({'key': key})}"}
            for key, known in KNOWN_SETTINGS.items()
            if key not in stored
        ]
        extra_context = {
            **(extra_context or {}),
            "embed_snippet": embed_snippet(),
            "unset_settings": unset,
        }
        return super().changelist_view(request, extra_context)

    @admin.display(description="what it does")
    def about(self, obj):
        known = KNOWN_SETTINGS.get(obj.key)
        about = known.description if known else "Not a setting WaChat reads (a typo?)"
        return f"{about} Note: {obj.description}" if obj.description else about

    @admin.display(description="value")
    def shown_value(self, obj):
        return obj.masked_value

    def save_model(self, request, obj, form, change):
        value = form.cleaned_data["new_value"]
        if form.keeps_secret:
            value = ChatSetting.objects.get(pk=obj.pk).plain_value
        known = KNOWN_SETTINGS.get(obj.key)
        secret = obj.encrypted or (known is not None and known.kind == "secret")
        obj.set_value(value, encrypted=secret)
        obj.save()


# The Conversation Center's names (wachat/agents/templates/agents/center.html).
PRIORITIES = [(0, "Low"), (1, "Normal"), (2, "High"), (3, "Urgent")]
SOURCES = [(Conversation.Source.WIDGET, "Website"), (Conversation.Source.WHATSAPP, "WhatsApp")]


class MessageInline(TabularInline):
    model = Message
    extra = 0
    can_delete = False
    fields = [
        "created_at",
        "sender_type",
        "visibility",
        "message_type",
        "content",
        "attachment",
        "status",
        "whatsapp_message_id",
    ]
    readonly_fields = fields
    ordering = ["pk"]

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="seen by")
    def visibility(self, obj):
        details = obj.metadata or {}
        if details.get("note"):
            return "🔒 Private note (agents only)"
        if details.get("private"):
            return "Agents only"
        return "Everyone"

    @admin.display(description="attachment")
    def attachment(self, obj):
        url = obj.media_url or ""
        if not url:
            return "–"
        name = (obj.metadata or {}).get("filename") or url.rstrip("/").rsplit("/", 1)[-1]
        if not url.startswith(("https://", "http://", "/")):
            return name  # not a link we serve: never an href the admin would follow
        return format_html(
            '<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>', url, name
        )


class AnalyticsView(UnfoldModelAdminViewMixin, TemplateView):
    """The seed's ChatAnalyticsPage."""

    title = "Analytics"
    permission_required = ("conversations.view_conversation",)
    template_name = "backoffice/analytics.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "report": analytics.report()}


class SourceFilter(admin.SimpleListFilter):
    title = "source"
    parameter_name = "source"

    def lookups(self, request, model_admin):
        return SOURCES

    def queryset(self, request, queryset):
        return queryset.filter(source=self.value()) if self.value() else queryset


@admin.register(Conversation)
class ConversationAdmin(ModelAdmin):
    list_display = [
        "code",
        "visitor_name",
        "source_name",
        "status",
        "agent",
        "priority_name",
        "satisfaction",
        "updated_at",
    ]
    list_filter = ["status", SourceFilter, "agent", "rating"]
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

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "priority":
            return forms.TypedChoiceField(
                choices=PRIORITIES,
                coerce=int,
                initial=db_field.default,
                widget=UnfoldAdminSelectWidget,
            )
        if db_field.name == "source":
            return forms.TypedChoiceField(
                choices=[("", "–"), *SOURCES],
                coerce=str,
                empty_value=None,
                required=False,
                widget=UnfoldAdminSelectWidget,
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_exclude(self, request, obj=None):
        # An empty metadata box reads "null": only show it when there is something in it.
        return [] if obj is not None and obj.metadata else ["metadata"]

    @admin.display(description="priority", ordering="priority")
    def priority_name(self, obj):
        return dict(PRIORITIES).get(obj.priority, str(obj.priority))

    @admin.display(description="source", ordering="source")
    def source_name(self, obj):
        return dict(SOURCES).get(obj.source, obj.source or "–")

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
    """A log: events are stored by the webhook, never added or edited here; replaying one
    is the only thing an admin does to it."""

    list_display = ["id", "event_type", "processed", "retry_count", "error_message", "created_at"]
    list_filter = ["processed", "event_type"]
    readonly_fields = [f.name for f in WebhookEvent._meta.fields]
    actions = ["replay"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_replay_permission(self, request):
        # The log itself is read-only; replaying needs the right to change events.
        return request.user.has_perm("whatsapp.change_webhookevent")

    @admin.action(description="Replay the selected events", permissions=["replay"])
    def replay(self, request, queryset):
        """Process each event again now (replay_webhook_event, as `manage.py
        replay_webhooks` does). Idempotent: what an event already did is not done twice."""
        from wachat.whatsapp.tasks import replay_webhook_event

        already, processed, failing = 0, 0, []
        for event in queryset.order_by("pk"):
            was_processed = event.processed
            event = replay_webhook_event(event.pk)
            already += was_processed
            if event.processed:
                processed += 1
            else:
                after = "waits for review" if event.needs_review else "retried automatically"
                failing.append(f"#{event.pk}: {event.error_message} ({after})")
        messages.info(request, replay_summary(processed, already, failing))
        if failing:
            messages.warning(request, "Still failing: " + "; ".join(failing))


def replay_summary(processed, already, failing):
    summary = f"Replayed {processed + len(failing)} event(s): {processed} processed"
    if failing:
        summary += f", {len(failing)} still failing"
    summary += "."
    if already:
        them = "it" if already == 1 else "them"
        summary += (
            f" {already} had already been processed: processing {them} again stored and"
            " sent nothing twice."
        )
    return summary


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
