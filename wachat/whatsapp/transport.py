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

    def read(self, message_ids):
        """These messages were read. A WhatsApp customer's, read by an agent: blue ticks on
        the customer's phone (one receipt, for the newest: WhatsApp marks the earlier ones
        read with it). Agent replies written on the agent's own WhatsApp (relay), read by
        the visitor: blue ticks on the agent's phone; the agent's wamid is kept on the
        AgentPhoneMessage the reply came in as."""
        from wachat.agents.models import AgentPhoneMessage
        from wachat.whatsapp.tasks import send_read_receipt

        newest_from_customer = (
            Message.objects.filter(
                pk__in=message_ids,
                conversation__source=Conversation.Source.WHATSAPP,
                sender_type=Message.SenderType.VISITOR,
                whatsapp_message_id__isnull=False,
            )
            .order_by("-pk")
            .values_list("whatsapp_message_id", flat=True)
            .first()
        )
        if newest_from_customer:
            send_read_receipt(newest_from_customer)

        wamids = AgentPhoneMessage.objects.filter(
            message_id__in=message_ids,
            direction=AgentPhoneMessage.Direction.FROM_AGENT,
            wamid__isnull=False,
        ).values_list("wamid", flat=True)
        for wamid in wamids:
            send_read_receipt(wamid)

    def wants_reaction(self, message):
        """A customer's WhatsApp message (it has their wamid): the reaction goes to their
        phone. A widget visitor's relayed copy is the agent's, so nothing is sent."""
        return bool(
            message.conversation.source == Conversation.Source.WHATSAPP
            and message.sender_type == Message.SenderType.VISITOR
            and message.whatsapp_message_id
        )

    def enqueue_reaction(self, message_id):
        from wachat.whatsapp.tasks import deliver_reaction

        deliver_reaction(message_id)
