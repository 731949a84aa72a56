"""The Conversations pages of the admin speak the Conversation Center's words."""

import pytest

from wachat.conversations import actions
from wachat.conversations.models import Conversation, Message

pytestmark = pytest.mark.django_db

LIST = "/admin/conversations/conversation/"


def change_url(conversation):
    return f"{LIST}{conversation.pk}/change/"


def test_the_list_names_priority_and_source_like_the_center(admin_client, visitor):
    message, _ = actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="c1")
    Conversation.objects.create(source="whatsapp", visitor_phone_number="4915100000001", priority=3)
    page = admin_client.get(LIST).content.decode()
    assert '<td class="field-priority_name' in page
    assert ">Normal</td>" in page and ">Urgent</td>" in page
    assert ">Website</td>" in page and ">WhatsApp</td>" in page
    assert ">Widget</td>" not in page and ">Whatsapp</td>" not in page


def test_the_source_filter_uses_the_same_names(admin_client, visitor):
    actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="c1")
    Conversation.objects.create(source="whatsapp", visitor_phone_number="4915100000001")
    page = admin_client.get(LIST, {"source": "whatsapp"}).content.decode()
    assert page.count('class="field-source_name') == 1
    assert 'data-label="source">WhatsApp</td>' in page


def test_the_detail_page_picks_priority_by_name_and_hides_empty_metadata(admin_client, visitor):
    message, _ = actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="c1")
    conversation = message.conversation
    page = admin_client.get(change_url(conversation)).content.decode()
    assert '<option value="1" selected>Normal</option>' in page
    assert '<option value="widget" selected>Website</option>' in page
    assert 'name="metadata"' not in page

    conversation.metadata = {"visitor_name": "Ada"}
    conversation.save()
    assert 'name="metadata"' in admin_client.get(change_url(conversation)).content.decode()


def test_saving_the_detail_page_keeps_priority_and_source(admin_client, visitor):
    message, _ = actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="c1")
    conversation = message.conversation
    form = {
        "whatsapp_phone_number": "",
        "visitor_phone_number": "",
        "status": "active",
        "priority": "2",
        "source": "widget",
        "messages-TOTAL_FORMS": "1",
        "messages-INITIAL_FORMS": "1",
        "messages-MIN_NUM_FORMS": "0",
        "messages-MAX_NUM_FORMS": "1000",
        "messages-0-id": str(message.pk),
        "messages-0-conversation": str(conversation.pk),
    }
    response = admin_client.post(change_url(conversation), form)
    assert response.status_code == 302, response.content.decode()[:3000]
    conversation.refresh_from_db()
    assert (conversation.priority, conversation.source) == (2, "widget")
    assert conversation.metadata is None  # hidden, so left as it was


def test_private_notes_and_attachments_are_marked_in_the_messages(admin_client, visitor, bob):
    message, _ = actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="c1")
    conversation = message.conversation
    actions.add_note(conversation=conversation, agent=bob, text="VIP customer", client_id="n1")
    Message.objects.create(
        conversation=conversation,
        direction="inbound",
        sender_type="visitor",
        message_type="document",
        media_url="/media/files/abc/invoice.pdf",
        metadata={"filename": "Invoice March.pdf"},
    )
    page = admin_client.get(change_url(conversation)).content.decode()
    assert page.count("Private note (agents only)") == 1
    assert page.count(">Everyone<") == 2
    assert '<a href="/media/files/abc/invoice.pdf" target="_blank"' in page
    assert ">Invoice March.pdf</a>" in page


def test_an_attachment_url_that_is_not_a_web_address_is_not_a_link(admin_client, visitor):
    message, _ = actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="c1")
    Message.objects.filter(pk=message.pk).update(media_url="javascript:alert(1)")
    page = admin_client.get(change_url(message.conversation)).content.decode()
    assert 'href="javascript:' not in page
