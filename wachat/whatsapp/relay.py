"""Answering visitors from WhatsApp: agents get each visitor message on their own phone,
tagged with the conversation's short code, and their replies come back to the visitor.

Two kinds of relayed copy:
- a widget visitor's message has no WhatsApp identity of its own, so its copy on the
  agent's phone *is* its WhatsApp message: WhatsAppTransport sends it (relay_target) and
  its wamid is stored on the Message; statuses from the agent's phone move the message the
  visitor sees forward (read: "the agent has read your message");
- a WhatsApp customer's message already has its wamid (the customer's), so the copy sent
  to the agent is a second WhatsApp message, an AgentPhoneMessage row with its own wamid,
  sent by AgentRelayTransport below.

A reply is matched to its conversation by, in order: the WhatsApp reply context (the
relayed message it answers), a leading conversation code ("#3FA2C1 thanks!"), or else the
conversation most recently relayed to that agent. Text starting with "/" is a command
(/list, /queue, /take CODE, /close CODE, /help), answered on the agent's phone.

Photos and documents travel as files both ways, the caption carrying the code tag. A file
that arrives over WhatsApp (a customer's, or an agent's reply) is fetched into our storage
first (tasks.fetch_media); only then does its message go on (Message.awaits_media), so
it is sent once, as a file. Voice notes, videos and stickers from an agent are not sent to
visitors: the agent is told on their phone what visitors can receive.
"""

import logging
import random
import re

from django.conf import settings
from django.db import transaction
from huey.contrib.djhuey import db_task

from wachat.agents import actions as agent_actions
from wachat.agents.models import AgentPhoneMessage
from wachat.conversations import actions
from wachat.conversations.models import ChatAgent, Conversation, Message
from wachat.whatsapp import breaker
from wachat.whatsapp.client import GraphClient
from wachat.whatsapp.errors import TOKEN_INVALID, WINDOW_CLOSED, GraphError

log = logging.getLogger(__name__)

CODE_PREFIX = re.compile(r"^\s*#?([0-9A-Fa-f]{6})\b[\s:,-]*")
COMMAND = re.compile(r"^\s*/(\w+)\s*(?:#?([0-9A-Fa-f]{6})\b)?\s*$")
OPEN = [Conversation.Status.ACTIVE, Conversation.Status.WAITING]
TEXT_LIMIT, CAPTION_LIMIT = 4096, 1024  # WhatsApp's, for a text and for a file's caption
CUT = "… (the rest is in the Conversation Center)"
# What visitors can receive from an agent's phone. Voice notes, videos and stickers have
# no place in the widget (it takes JPEG/PNG photos and documents): the agent is told.
FOR_VISITORS = {"text", "image", "document", "location"}
NOT_FOR_VISITORS = (
    "visitors can receive text, photos and documents. Send a voice note or video as a "
    "document (📎 > Document) instead."
)
HELP = (
    "Commands: /list (your open conversations), /queue (waiting ones), "
    "/take CODE, /close CODE, /help. Anything else is a reply: answer a relayed message, "
    "or start with the code (#ABC123 text), or it goes to your latest conversation."
)


def relay_target(conversation):
    """The WhatsApp number a widget visitor's message in `conversation` is relayed to."""
    agent = conversation.agent
    if conversation.source == Conversation.Source.WIDGET and agent and agent.whatsapp_phone_number:
        return agent.whatsapp_phone_number
    return None


def relay_text(message):
    """The text of a relayed copy (a photo's or document's caption), within WhatsApp's
    limit: a visitor may write as much as WhatsApp carries, and the code tag comes on
    top, so a text that no longer fits is cut, saying where the rest is."""
    conversation = message.conversation
    details = message.metadata or {}
    head = f"[#{conversation.code}] {conversation.visitor_name}: "
    tail = ""
    if details.get("media_error"):
        tail = " (the file could not be fetched from WhatsApp)"
    limit = CAPTION_LIMIT if details.get("storage_name") else TEXT_LIMIT
    body, room = message.preview, limit - len(head) - len(tail)
    if len(body) > room:
        body = body[: room - len(CUT)]
        space = body.rfind(" ", len(body) - 40)  # at a word's end, when one is near
        body = (body[:space] if space > 0 else body).rstrip() + CUT
    return head + body + tail


def agent_for_number(phone):
    return ChatAgent.objects.select_related("user").filter(whatsapp_phone_number=phone).first()


# --- Customers' WhatsApp messages to the agent's phone ---------------------------------------


class AgentRelayTransport:
    """Relays messages of WhatsApp customers (source=whatsapp) to the assigned agent's
    phone (see conversations/transports.py)."""

    def wants(self, message):
        conversation = message.conversation
        return bool(
            message.sender_type == Message.SenderType.VISITOR
            and conversation.source == Conversation.Source.WHATSAPP
            and conversation.agent_id
            and conversation.agent.whatsapp_phone_number
        )

    def enqueue(self, message_id):
        relay_to_agent(message_id)


@db_task()
def relay_to_agent(message_id):
    """Store the copy for the conversation's agent (once), then send it."""
    message = Message.objects.select_related("conversation__agent__user").get(pk=message_id)
    agent = message.conversation.agent
    if agent is None or not agent.whatsapp_phone_number:
        return
    row, _ = agent_actions.queue_to_phone(agent=agent, body=relay_text(message), message=message)
    deliver_to_phone.call_local(row.pk)


@db_task()
def deliver_to_phone(phone_message_id, attempt=1):
    """Send one pending AgentPhoneMessage; a closed 24-hour window holds it (and asks the
    agent, with the re-engagement template, to write) until the agent writes again."""
    row = AgentPhoneMessage.objects.select_related("agent").get(pk=phone_message_id)
    if row.status != AgentPhoneMessage.Status.PENDING:
        return  # sent, held or failed: never send twice
    decision = breaker.allow()
    if decision.broken:
        agent_actions.record_phone_message_failed(
            phone_message=row, reason=decision.broken, code=TOKEN_INVALID
        )
        return
    if not decision.allowed:
        deliver_to_phone.schedule((row.pk, attempt), delay=decision.wait + random.uniform(0, 1))
        return
    client = GraphClient()
    to = row.agent.whatsapp_phone_number
    try:
        wamid = _send_copy(client, row, to)
    except GraphError as error:
        if error.server_side:
            breaker.record_failure(error)
        if error.code == WINDOW_CLOSED:
            if agent_actions.hold_phone_message(phone_message=row) and not _bridge_holds(to):
                _send_reengagement(client, row.agent)
            return
        if error.retryable and attempt < settings.WHATSAPP_SEND_ATTEMPTS:
            delay = max(error.retry_after or 0, random.uniform(0, 2.0 * 2 ** (attempt - 1)))
            deliver_to_phone.schedule((row.pk, attempt + 1), delay=delay)
            return
        agent_actions.record_phone_message_failed(
            phone_message=row, reason=error.explanation, code=error.code
        )
        return
    breaker.record_success()
    agent_actions.record_phone_message_sent(phone_message=row, wamid=wamid)


def _send_copy(client, row, to):
    """A relayed photo or document goes as one (its file is stored by then: see
    Message.awaits_media), captioned with the row's body; anything else as text."""
    from wachat.whatsapp.tasks import send_content  # tasks imports this module

    if row.message_id is None:
        return client.send_text(to, row.body)
    return send_content(client, row.message, to, row.body)


def hold_refused_copy(wamid, error):
    """A status said a copy to an agent's phone failed with 131047 (Meta reports a closed
    window after accepting the send). Hold it until the agent writes, and ask them with
    the template once. True when the status is dealt with here (a replay included)."""
    row, first = agent_actions.hold_refused_phone_message(wamid=wamid, error=error)
    if row is None:
        return AgentPhoneMessage.objects.filter(error__refused_wamid=wamid).exists()
    if first and not _bridge_holds(row.agent.whatsapp_phone_number):
        transaction.on_commit(lambda: _send_reengagement(GraphClient(), row.agent))
    return True


def _bridge_holds(phone):
    """A widget message to this phone is already held, so the bridge sent the template."""
    return Message.objects.filter(
        status=Message.Status.PENDING, metadata__awaiting_window=phone
    ).exists()


def _send_reengagement(client, agent):
    """The template asking the agent to write. Kept as a row like every message to their
    phone, so Meta's statuses for it find it instead of waiting in the webhook log."""
    name = settings.WHATSAPP_REENGAGE_TEMPLATE
    row, _ = agent_actions.queue_to_phone(agent=agent, body=f"[template {name}]")
    try:
        wamid = client.send_template(
            agent.whatsapp_phone_number, name, settings.WHATSAPP_REENGAGE_LANGUAGE
        )
    except GraphError as error:
        log.error("re-engagement template to agent %s failed: %s", agent, error)
        agent_actions.record_phone_message_failed(
            phone_message=row, reason=error.explanation, code=error.code
        )
        return
    agent_actions.record_phone_message_sent(phone_message=row, wamid=wamid)


def _send_on_commit(agent, body, conversation=None):
    row, _ = agent_actions.queue_to_phone(agent=agent, body=body, conversation=conversation)
    transaction.on_commit(lambda: deliver_to_phone(row.pk))


# --- What the agent writes -------------------------------------------------------------------


def receive_from_agent(agent, inbound):
    """The agent wrote to the business number: a command, or a reply to a visitor.

    Idempotent on the wamid. Messages held for this agent (closed window) are sent now.
    """
    phone_message = agent_actions.claim_phone_message(
        agent=agent, wamid=inbound.wamid, text=inbound.text or ""
    )
    if phone_message is None:
        return  # handled before
    for held_id in agent_actions.release_held_phone_messages(agent=agent):
        transaction.on_commit(lambda pk=held_id: deliver_to_phone(pk))
    text = _caption(inbound)
    command = COMMAND.match(text)
    if command and inbound.message_type == "text":
        run_command(agent, command.group(1).lower(), (command.group(2) or "").upper())
        return
    conversation, text = conversation_for_reply(agent, reply_to=inbound.reply_to, text=text)
    if conversation is None:
        _send_on_commit(agent, "No open conversation to send that to. " + HELP)
        return
    if not conversation.is_open:
        _send_on_commit(
            agent,
            f"#{conversation.code} is closed; your message was not sent.",
            conversation=conversation,
        )
        return
    if inbound.raw_type not in FOR_VISITORS:
        notice = f"Not sent to #{conversation.code}: {NOT_FOR_VISITORS}"
        _send_on_commit(agent, notice, conversation)
        return
    media = None
    if inbound.message_type in (Message.Type.IMAGE, Message.Type.DOCUMENT) and inbound.media_id:
        details = inbound.metadata or {}
        media = {
            "kind": inbound.message_type,
            "media_id": inbound.media_id,
            "mime_type": details.get("mime_type") or "",
            "filename": details.get("filename") or "",
        }
    try:
        message = agent_actions.answer_from_phone(
            phone_message=phone_message, conversation=conversation, text=text, media=media
        )
    except actions.InvalidMessage as exc:
        _send_on_commit(agent, f"Not sent to #{conversation.code}: {exc}", conversation)
        return
    if media:
        from wachat.whatsapp.tasks import fetch_media  # tasks imports this module

        transaction.on_commit(lambda: fetch_media(message.pk))


def _caption(inbound):
    """What the agent typed: a document without a caption carries its filename as text."""
    text = inbound.text or ""
    if inbound.message_type == Message.Type.DOCUMENT and text == inbound.metadata.get("filename"):
        return ""
    return text


def media_unavailable(message, reason):
    """The file of `message` could not be fetched from WhatsApp (see
    actions.record_media_unavailable); an agent who sent it from their phone is told."""
    message = actions.record_media_unavailable(message=message, reason=reason)
    if message is None or message.sender_type != Message.SenderType.AGENT:
        return
    sent_from = message.relayed_copies.filter(direction=AgentPhoneMessage.Direction.FROM_AGENT)
    for row in sent_from.select_related("agent"):
        code = message.conversation.code
        _send_on_commit(row.agent, f"Not sent to #{code}: {reason}", message.conversation)


def conversation_for_reply(agent, *, reply_to, text):
    """(conversation, text without the code) for an agent's WhatsApp message, or (None, text).

    A quoted message decides even when its conversation is closed (the caller says so),
    so a reply never lands with the wrong visitor.
    """
    if reply_to:
        relayed = (
            Message.objects.filter(whatsapp_message_id=reply_to, conversation__agent=agent)
            .select_related("conversation")
            .first()
        )
        if relayed:
            return relayed.conversation, text
        copy = (
            AgentPhoneMessage.objects.filter(wamid=reply_to, agent=agent, conversation__agent=agent)
            .select_related("conversation")
            .first()
        )
        if copy:
            return copy.conversation, text
    open_conversations = Conversation.objects.filter(agent=agent, status__in=OPEN)
    match = CODE_PREFIX.match(text)
    if match:
        code = match.group(1).upper()
        for conversation in open_conversations:
            if conversation.code == code:
                return conversation, text[match.end() :]
    return latest_relayed(agent, open_conversations), text


def latest_relayed(agent, open_conversations):
    """The open conversation whose message reached the agent's phone last."""
    widget = (
        Message.objects.filter(
            conversation__in=open_conversations.filter(source=Conversation.Source.WIDGET),
            sender_type=Message.SenderType.VISITOR,
            whatsapp_message_id__isnull=False,
        )
        .select_related("conversation")
        .order_by("-created_at", "-pk")
        .first()
    )
    copy = (
        AgentPhoneMessage.objects.filter(
            agent=agent,
            direction=AgentPhoneMessage.Direction.TO_AGENT,
            message__isnull=False,
            conversation__in=open_conversations,
        )
        .select_related("conversation")
        .order_by("-created_at", "-pk")
        .first()
    )
    candidates = [c for c in [widget, copy] if c is not None]
    if not candidates:
        return None
    return max(candidates, key=lambda row: row.created_at).conversation


# --- Commands --------------------------------------------------------------------------------


def run_command(agent, name, code):
    handler = COMMANDS.get(name)
    answer = handler(agent, code) if handler else f"Unknown command /{name}. {HELP}"
    _send_on_commit(agent, answer)


def _by_code(conversations, code):
    if not code:
        return None
    for conversation in conversations.filter(pk__istartswith=code.lower()):
        if conversation.code == code:
            return conversation
    return None


def _line(conversation):
    last = (
        conversation.messages.filter(sender_type=Message.SenderType.VISITOR)
        .only("content", "message_type", "metadata")
        .order_by("-pk")
        .first()
    )
    preview = f": {last.preview[:60]}" if last and last.preview else ""
    return f"#{conversation.code} {conversation.visitor_name}{preview}"


def command_list(agent, code):
    mine = Conversation.objects.filter(agent=agent, status__in=OPEN).order_by("-updated_at")
    lines = [_line(c) for c in mine[:20]]
    waiting = Conversation.objects.filter(status=Conversation.Status.WAITING).count()
    head = f"Your open conversations ({len(lines)})" if lines else "No open conversations."
    tail = f"\n{waiting} waiting in the queue: /queue" if waiting else ""
    return "\n".join([head, *lines]) + tail


def command_queue(agent, code):
    waiting = Conversation.objects.filter(status=Conversation.Status.WAITING).order_by("created_at")
    lines = [_line(c) for c in waiting[:20]]
    if not lines:
        return "Nobody is waiting."
    return "\n".join([f"Waiting ({len(lines)}), take one with /take CODE:", *lines])


def command_take(agent, code):
    conversation = _by_code(Conversation.objects.filter(status__in=OPEN), code)
    if conversation is None:
        return f"No open conversation #{code}." if code else "Usage: /take CODE"
    if conversation.agent_id == agent.pk:
        return f"#{conversation.code} is already yours."
    try:
        actions.assign_conversation(
            conversation=conversation, agent=agent, by=agent, only_if_unassigned=True
        )
    except actions.ActionRefused as exc:
        return f"#{conversation.code}: {exc}"
    return f"#{conversation.code} is yours now. {_line(conversation)}"


def command_close(agent, code):
    mine = Conversation.objects.filter(status__in=OPEN)
    if not agent.user.is_staff:
        mine = mine.filter(agent=agent)
    conversation = _by_code(mine, code)
    if conversation is None:
        return f"You have no open conversation #{code}." if code else "Usage: /close CODE"
    actions.close_conversation(conversation=conversation, by=agent)
    return f"Closed #{conversation.code}."


def command_help(agent, code):
    return HELP


COMMANDS = {
    "list": command_list,
    "queue": command_queue,
    "take": command_take,
    "close": command_close,
    "help": command_help,
}
