"""Answering visitors from WhatsApp: agents get each visitor message on their own phone,
tagged with the conversation's short code, and their replies come back to the visitor.

A reply is matched to its conversation by, in order: the WhatsApp reply context (the
relayed message it answers), a leading conversation code ("#3FA2C1 thanks!"), or else the
conversation most recently relayed to that agent.
"""

import re

from wachat.conversations.models import ChatAgent, Conversation, Message

CODE_PREFIX = re.compile(r"^\s*#?([0-9A-Fa-f]{6})\b[\s:,-]*")


def relay_target(conversation):
    """The WhatsApp number a visitor message in `conversation` is relayed to, if any."""
    agent = conversation.agent
    if conversation.source == Conversation.Source.WIDGET and agent and agent.whatsapp_phone_number:
        return agent.whatsapp_phone_number
    return None


def relay_text(message):
    conversation = message.conversation
    return f"[#{conversation.code}] {conversation.visitor_name}: {message.content}"


def agent_for_number(phone):
    return ChatAgent.objects.select_related("user").filter(whatsapp_phone_number=phone).first()


def conversation_for_reply(agent, *, reply_to, text):
    """(conversation, text without the code) for an agent's WhatsApp message, or (None, text)."""
    open_conversations = Conversation.objects.filter(
        agent=agent, status__in=[Conversation.Status.ACTIVE, Conversation.Status.WAITING]
    )
    if reply_to:
        relayed = (
            Message.objects.filter(whatsapp_message_id=reply_to, conversation__agent=agent)
            .select_related("conversation")
            .first()
        )
        if relayed:
            return relayed.conversation, text
    match = CODE_PREFIX.match(text)
    if match:
        code = match.group(1).upper()
        for conversation in open_conversations:
            if conversation.code == code:
                return conversation, text[match.end() :]
    latest = (
        Message.objects.filter(
            conversation__in=open_conversations,
            sender_type=Message.SenderType.VISITOR,
            whatsapp_message_id__isnull=False,
        )
        .select_related("conversation")
        .order_by("-pk")
        .first()
    )
    return (latest.conversation if latest else None), text
