import pytest
from django.db import IntegrityError, transaction

from wachat.conversations.models import Conversation, Message


def message(conversation, **fields):
    return Message.objects.create(
        conversation=conversation, direction="inbound", sender_type="visitor", **fields
    )


@pytest.fixture
def conversation(db):
    return Conversation.objects.create(source="widget")


def test_duplicate_whatsapp_message_id_is_rejected(conversation):
    message(conversation, whatsapp_message_id="wamid.A")
    with pytest.raises(IntegrityError), transaction.atomic():
        message(conversation, whatsapp_message_id="wamid.A")


def test_messages_without_whatsapp_id_do_not_collide(conversation):
    message(conversation)
    message(conversation)
    assert conversation.messages.count() == 2


def test_duplicate_client_id_in_one_conversation_is_rejected(conversation):
    message(conversation, client_id="c-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        message(conversation, client_id="c-1")


def test_same_client_id_in_another_conversation_is_allowed(conversation):
    other = Conversation.objects.create(source="widget")
    message(conversation, client_id="c-1")
    message(other, client_id="c-1")
    assert Message.objects.filter(client_id="c-1").count() == 2


def test_seed_defaults(conversation):
    row = message(conversation)
    assert (conversation.status, conversation.priority) == ("active", 1)
    assert (row.message_type, row.status) == ("text", "pending")


def test_status_only_moves_forward(conversation):
    row = message(conversation, status="delivered")
    assert row.can_move_to("read")
    assert not row.can_move_to("sent")
    assert not row.can_move_to("delivered")
