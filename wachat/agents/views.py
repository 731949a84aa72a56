"""The Conversation Center: agents' real-time inbox. Writes go over the WebSocket
(AgentConsumer) through the same actions as everything else."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseForbidden, JsonResponse
from django.shortcuts import get_object_or_404, render

from wachat.conversations import selectors
from wachat.conversations.events import conversation_data, message_data
from wachat.conversations.models import ChatAgent, Conversation


def agent_required(view):
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        request.agent = ChatAgent.objects.filter(user=request.user).first()
        if request.agent is None:
            return HttpResponseForbidden(
                "You need an agent account to use the Conversation Center."
            )
        return view(request, *args, **kwargs)

    return wrapper


@agent_required
def center(request):
    conversations = [conversation_data(c) for c in selectors.inbox()]
    return render(
        request, "agents/center.html", {"conversations": conversations, "agent": request.agent}
    )


@agent_required
def conversation_messages(request, conversation_id):
    conversation = get_object_or_404(Conversation, pk=conversation_id)
    after = request.GET.get("after", "")
    messages = selectors.conversation_messages(
        conversation.pk, after=int(after) if after.isdigit() else 0
    )
    return JsonResponse(
        {
            "conversation": conversation_data(conversation),
            "messages": [message_data(m) for m in messages],
        }
    )
