import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from wachat.agents import actions as agent_actions
from wachat.conftest import make_agent
from wachat.conversations import actions
from wachat.conversations.models import ChatAgent, Conversation


def client_for(agent):
    client = Client()
    client.force_login(agent.user)
    return client


def conversation_with(text, visitor_id, *, name=None, client_id="c1"):
    session = actions.touch_visitor_session(
        session_id=visitor_id,
        referrer="https://google.com/",
        utm={"source": "ads"},
        user_agent="Mozilla/5.0 (Linux; Android 14) Chrome/130.0 Mobile Safari/537.36",
    )
    if name:
        actions.update_visitor_profile(visitor_session=session, name=name)
    message, _ = actions.send_visitor_message(
        visitor_session=session, text=text, client_id=client_id
    )
    return Conversation.objects.get(pk=message.conversation_id)


@pytest.fixture
def carol(db):
    return make_agent("carol", max_concurrent_chats=1)


@pytest.fixture
def dave(db):
    return make_agent("dave", status=ChatAgent.Status.AWAY, max_concurrent_chats=1)


def ids(response):
    return [c["id"] for c in response.json()["conversations"]]


def test_the_center_needs_an_agent_account(db):
    assert Client().get("/center/").status_code == 302
    user = get_user_model().objects.create_user("eve", password="x")
    client = Client()
    client.force_login(user)
    assert client.get("/center/").status_code == 403


def test_the_center_page_renders_for_an_agent(carol):
    response = client_for(carol).get("/center/")
    assert response.status_code == 200
    assert b"Conversation Center" in response.content


def test_an_agent_sees_their_own_and_waiting_conversations_not_others(carol, dave):
    mine = conversation_with("first", "v1")
    waiting = conversation_with("second", "v2")
    assert (mine.agent, waiting.agent) == (carol, None)
    actions.set_agent_status(agent=dave, status="online")  # takes the waiting one
    daves = Conversation.objects.get(pk=waiting.pk)
    assert daves.agent == dave
    third = conversation_with("third", "v3")  # nobody has room: waits

    client = client_for(carol)
    assert set(ids(client.get("/center/api/conversations"))) == {str(mine.pk), str(third.pk)}
    assert client.get(f"/center/conversations/{daves.pk}").status_code == 404
    assert client.get(f"/center/conversations/{daves.pk}/messages").status_code == 404
    assert client.get(f"/center/conversations/{third.pk}").status_code == 200


def test_a_supervisor_sees_every_conversation(carol, dave):
    conversation_with("first", "v1")
    actions.set_agent_status(agent=dave, status="online")
    conversation_with("second", "v2")
    dave.user.is_staff = True
    dave.user.save()
    assert len(ids(client_for(dave).get("/center/api/conversations"))) == 2


def test_filters_by_status_scope_and_source(carol, dave):
    mine = conversation_with("first", "v1")
    waiting = conversation_with("second", "v2")
    actions.receive_whatsapp_message(
        phone="15559990000", profile_name="Wes", whatsapp_message_id="wamid.W", text="yo"
    )
    client = client_for(carol)
    assert ids(client.get("/center/api/conversations?scope=mine")) == [str(mine.pk)]
    whatsapp = ids(client.get("/center/api/conversations?source=whatsapp"))
    assert len(whatsapp) == 1 and whatsapp[0] not in {str(mine.pk), str(waiting.pk)}
    assert str(waiting.pk) in ids(client.get("/center/api/conversations?status=waiting"))
    actions.close_conversation(conversation=mine, by=carol)
    assert ids(client.get("/center/api/conversations?status=closed")) == [str(mine.pk)]
    assert str(mine.pk) not in ids(client.get("/center/api/conversations?status=open"))


def test_search_by_name_phone_text_and_code(carol):
    carol.user.is_staff = True
    carol.user.save()
    named = conversation_with("where is my order?", "v1", name="Grace Hopper")
    other = conversation_with("hello", "v2")
    actions.receive_whatsapp_message(
        phone="15551234567", profile_name="", whatsapp_message_id="wamid.P", text="hey"
    )
    client = client_for(carol)
    assert ids(client.get("/center/api/conversations?q=grace")) == [str(named.pk)]
    assert ids(client.get("/center/api/conversations?q=ORDER")) == [str(named.pk)]
    assert len(ids(client.get("/center/api/conversations?q=1234567"))) == 1
    assert ids(client.get(f"/center/api/conversations?q=%23{other.code}")) == [str(other.pk)]


def test_unread_counts_follow_the_read_marker_and_the_list_is_newest_first(carol):
    first = conversation_with("one", "v1")
    session = first.visitor_session
    actions.send_visitor_message(visitor_session=session, text="two", client_id="c2")
    client = client_for(carol)
    row = client.get("/center/api/conversations").json()["conversations"][0]
    assert (row["unread"], row["preview"]) == (2, "two")

    last = first.messages.order_by("-pk").first()
    agent_actions.mark_read(agent=carol, conversation=first, up_to=last.pk)
    agent_actions.mark_read(agent=carol, conversation=first, up_to=1)  # never moves back
    assert client.get("/center/api/conversations").json()["conversations"][0]["unread"] == 0


def test_inbox_and_history_are_paginated(carol):
    carol.user.is_staff = True
    carol.user.save()
    for i in range(55):
        conversation_with(f"hello {i}", f"v{i}")
    client = client_for(carol)
    first = client.get("/center/api/conversations").json()
    second = client.get("/center/api/conversations?offset=50").json()
    assert (len(first["conversations"]), first["has_more"]) == (50, True)
    assert (len(second["conversations"]), second["has_more"]) == (5, False)
    assert not set(ids_ := [c["id"] for c in first["conversations"]]) & {
        c["id"] for c in second["conversations"]
    }
    assert len(ids_) == 50

    conversation = Conversation.objects.get(agent=carol)
    for i in range(60):
        actions.send_visitor_message(
            visitor_session=conversation.visitor_session, text=f"m{i}", client_id=f"m{i}"
        )
    page = client.get(f"/center/conversations/{conversation.pk}").json()
    assert page["has_more"] and len(page["messages"]) == 50
    assert page["messages"][-1]["content"] == "m59"
    older = client.get(
        f"/center/conversations/{conversation.pk}/messages?before={page['messages'][0]['id']}"
    ).json()
    assert older["messages"][-1]["id"] < page["messages"][0]["id"]
    assert not older["has_more"]


def test_conversation_view_shows_visitor_details_and_notes(carol):
    conversation = conversation_with("hi", "v1", name="Ada")
    actions.add_note(conversation=conversation, agent=carol, text="secret", client_id="n1")
    data = client_for(carol).get(f"/center/conversations/{conversation.pk}").json()
    visitor = data["visitor"]
    assert visitor["name"] == "Ada"
    assert visitor["referrer"] == "https://google.com/"
    assert visitor["utm"]["source"] == "ads"
    assert visitor["device"] == "Chrome on Android"
    contents = [(m["content"], m["private"]) for m in data["messages"]]
    assert ("secret", True) in contents and ("hi", False) in contents
