"""The Conversation Center: agents' real-time inbox. Pages and reads are HTTP; writes go
over the WebSocket (AgentConsumer) through the same actions as everything else."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseForbidden, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from wachat.agents import selectors
from wachat.agents.tasks import auto_away_after
from wachat.conversations import actions, attachments
from wachat.conversations.events import agent_conversation_data, message_data
from wachat.conversations.models import ChatAgent, client_id_problem
from wachat.widget import geo

HEARTBEAT_SECONDS = 30


def agent_required(view):
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        request.agent = ChatAgent.objects.select_related("user").filter(user=request.user).first()
        if request.agent is None:
            return HttpResponseForbidden(
                "You need an agent account to use the Conversation Center."
            )
        return view(request, *args, **kwargs)

    return wrapper


def _int(value, default=0):
    return int(value) if value and value.isdigit() else default


def _inbox_page(request):
    params = request.GET
    offset = _int(params.get("offset"))
    conversations = selectors.inbox(
        request.agent,
        status=params.get("status", ""),
        scope=params.get("scope", ""),
        source=params.get("source", ""),
        query=params.get("q", "")[:100],
        label=params.get("label", "")[:20],
        offset=offset,
        limit=selectors.PAGE + 1,
    )
    previews = selectors.previews(conversations)
    rows = []
    for conversation in conversations[: selectors.PAGE]:
        rows.append(
            {
                **agent_conversation_data(conversation),
                "unread": conversation.unread,
                "preview": previews.get(conversation.pk, "")[:120],
            }
        )
    return {
        "conversations": rows,
        "has_more": len(conversations) > selectors.PAGE,
        # What going offline would send back to the queue (the page asks first).
        "open_mine": selectors.open_conversation_count(request.agent),
    }


@agent_required
def center(request):
    return render(
        request,
        "agents/center.html",
        {
            "agent": request.agent,
            "supervisor": selectors.is_supervisor(request.agent),
            "boot": {
                "agent": {
                    "id": request.agent.pk,
                    "name": request.agent.name,
                    "status": request.agent.status,
                    "supervisor": selectors.is_supervisor(request.agent),
                },
                "agents": [
                    {"id": a.pk, "name": a.name, "status": a.status}
                    for a in selectors.agents_for_transfer()
                ],
                "canned": selectors.canned_responses(),
                "labels": selectors.labels(),
                "heartbeat_seconds": HEARTBEAT_SECONDS,
                "auto_away_seconds": int(auto_away_after().total_seconds())
                if auto_away_after()
                else 0,
            },
        },
    )


@agent_required
def inbox(request):
    return JsonResponse(_inbox_page(request))


@agent_required
def conversation(request, conversation_id):
    """The conversation, its visitor's details, and the latest page of its history."""
    found = selectors.visible_conversation(request.agent, conversation_id)
    if found is None:
        raise Http404("No such conversation.")
    messages = selectors.history(found, limit=selectors.PAGE + 1)
    return JsonResponse(
        {
            "conversation": {
                **agent_conversation_data(found),
                "can_write": selectors.can_write(request.agent, found),
            },
            "visitor": _visitor_details(found),
            "messages": [message_data(m) for m in messages[-selectors.PAGE :]],
            "has_more": len(messages) > selectors.PAGE,
        }
    )


@agent_required
def conversation_messages(request, conversation_id):
    """Older history (`before` an id, scrolling up) or newer (`after` an id, resuming)."""
    found = selectors.visible_conversation(request.agent, conversation_id)
    if found is None:
        raise Http404("No such conversation.")
    before, after = _int(request.GET.get("before")), _int(request.GET.get("after"))
    messages = selectors.history(found, before=before, after=after, limit=selectors.PAGE + 1)
    has_more = bool(before) and len(messages) > selectors.PAGE
    if before:
        messages = messages[-selectors.PAGE :]
    return JsonResponse({"messages": [message_data(m) for m in messages], "has_more": has_more})


@agent_required
@require_POST
def conversation_attachments(request, conversation_id):
    """Attach a file (multipart: file, client_id, caption) to a conversation the agent may
    write to, the same rule as replies over the WebSocket. Answers the message (201; 200
    for a retry with the same client_id) or {"detail"} with 400/403/404/413/415."""
    found = selectors.visible_conversation(request.agent, conversation_id)
    if found is None:
        return JsonResponse({"detail": "No such conversation."}, status=404)
    if not selectors.can_write(request.agent, found):
        detail = (
            "Take this conversation first."
            if found.agent_id is None
            else "This conversation belongs to another agent."
        )
        return JsonResponse({"detail": detail}, status=403)
    upload, client_id = request.FILES.get("file"), request.POST.get("client_id", "")
    if upload is None:
        return JsonResponse({"detail": "Choose a file to attach."}, status=400)
    if problem := client_id_problem(client_id):
        return JsonResponse({"detail": problem}, status=400)
    try:
        message, created = actions.send_agent_attachment(
            conversation=found,
            agent=request.agent,
            content=attachments.read(upload),
            filename=upload.name,
            client_id=client_id,
            caption=request.POST.get("caption", ""),
        )
    except attachments.InvalidAttachment as exc:
        return JsonResponse({"detail": str(exc)}, status=exc.status)
    return JsonResponse(message_data(message), status=201 if created else 200)


def _visitor_details(conversation):
    session = conversation.visitor_session
    details = {
        "name": conversation.visitor_name,
        "phone": conversation.visitor_phone_number,
        "source": conversation.source,
    }
    if session is not None:
        profile = session.metadata or {}
        details.update(
            {
                "email": profile.get("email"),
                "phone": profile.get("phone") or conversation.visitor_phone_number,
                "referrer": session.referrer,
                "utm": {
                    "source": session.utm_source,
                    "medium": session.utm_medium,
                    "campaign": session.utm_campaign,
                },
                "page_views": session.page_views,
                "pages": profile.get("pages", [])[-10:],
                "location": geo.describe(profile.get("location")),
                "user_agent": session.user_agent,
                "device": describe_device(session.user_agent),
                "first_visit_at": session.first_visit_at.isoformat(),
                "last_activity_at": session.last_activity_at.isoformat(),
            }
        )
    return details


def describe_device(user_agent):
    """A rough "Chrome on Android" from a User-Agent: enough for an agent's glance."""
    ua = user_agent or ""
    browser = next(
        (
            name
            for token, name in [
                ("Edg/", "Edge"),
                ("OPR/", "Opera"),
                ("Firefox/", "Firefox"),
                ("Chrome/", "Chrome"),
                ("Safari/", "Safari"),
            ]
            if token in ua
        ),
        "",
    )
    system = next(
        (
            name
            for token, name in [
                ("Android", "Android"),
                ("iPhone", "iPhone"),
                ("iPad", "iPad"),
                ("Windows", "Windows"),
                ("Mac OS X", "macOS"),
                ("Linux", "Linux"),
            ]
            if token in ua
        ),
        "",
    )
    if not (browser or system):
        return "Unknown device"
    return " on ".join(part for part in [browser, system] if part)
