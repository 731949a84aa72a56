"""WhatsApp as an outbound channel for the domain (see conversations/transports.py)."""

from wachat.conversations.models import Conversation, Message
from wachat.whatsapp import relay


class WhatsAppTransport:
    def wants(self, message):
        conversation = message.conversation
        if message.sender_type == Message.SenderType.VISITOR:
            return relay.relay_target(conversation) is not None
        # An agent's answer in a conversation the customer started on WhatsApp.
        return (
            message.sender_type == Message.SenderType.AGENT
            and conversation.source == Conversation.Source.WHATSAPP
            and not message.whatsapp_message_id
        )

    def enqueue(self, message_id):
        from wachat.whatsapp.tasks import deliver_message

        deliver_message(message_id)
