"""POST /api/widget/attachments: a visitor attaches a file; and the file is served."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from wachat.conversations import actions
from wachat.conversations.attachments import UploadLimit
from wachat.conversations.models import Conversation, Message
from wachat.conversations.tests import samples

URL = "/api/widget/attachments"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def upload(client, content, name="photo.png", client_id="a1", **fields):
    return client.post(
        URL, {"file": SimpleUploadedFile(name, content), "client_id": client_id, **fields}
    )


def stored_files(root):
    return [p for p in root.rglob("*") if p.is_file()]


def test_an_image_is_stored_and_returned_as_a_message(widget, visitor, media):
    response = upload(widget, samples.png(), caption="my cat")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["message_type"], data["content"], data["client_id"]) == ("image", "my cat", "a1")
    assert data["attachment"] == {
        "filename": "photo.png",
        "size": len(samples.png()),
        "mime_type": "image/png",
    }
    message = Message.objects.get()
    assert message.conversation.visitor_session_id == visitor.pk
    assert data["media_url"] == message.media_url
    served = Client().get(data["media_url"])
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == samples.png()


def test_a_retried_upload_with_the_same_client_id_returns_the_first_message(widget, media):
    first = upload(widget, samples.pdf(), name="a.pdf")
    again = upload(widget, samples.pdf(), name="a.pdf")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Message.objects.count() == 1
    assert len(stored_files(media)) == 1


def test_an_empty_file_is_a_400(widget):
    response = upload(widget, b"")
    assert response.status_code == 400
    assert response.json()["detail"] == "The file is empty."


def test_a_missing_file_or_client_id_is_a_400(widget):
    assert widget.post(URL, {"client_id": "a1"}).status_code == 400
    response = upload(widget, samples.pdf(), client_id="")
    assert response.status_code == 400
    assert not Message.objects.exists()


def test_a_file_over_the_limit_is_a_413(widget, settings, media):
    settings.WACHAT_ATTACHMENT_MAX_BYTES = 1000
    response = upload(widget, samples.pdf() + b" " * 2000, name="big.pdf")
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
    assert not Message.objects.exists() and not stored_files(media)


def test_a_program_renamed_to_png_is_a_415(widget, media):
    response = upload(widget, samples.exe(), name="cute-cat.png")
    assert response.status_code == 415
    assert response.json()["detail"].startswith("This type of file cannot be sent.")
    assert not Message.objects.exists() and not stored_files(media)


def test_uploads_are_rate_limited_per_visitor(widget, settings):
    settings.WIDGET_RATE_LIMITS = {**settings.WIDGET_RATE_LIMITS, "upload": {"visitor": (2, 60)}}
    codes = [upload(widget, samples.pdf(), client_id=f"a{i}").status_code for i in range(3)]
    assert codes == [201, 201, 429]
    assert Message.objects.count() == 2


def test_a_forged_token_is_refused(client, db):
    client = Client(headers={"X-WaChat-Token": "forged"})
    assert upload(client, samples.png()).status_code == 401
    assert not Message.objects.exists()


def test_an_unlisted_origin_is_refused(widget):
    response = widget.post(
        URL,
        {"file": SimpleUploadedFile("a.png", samples.png()), "client_id": "a1"},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert not Message.objects.exists()


def test_a_visitor_cannot_upload_into_someone_elses_conversation(widget, visitor):
    other = actions.touch_visitor_session(session_id="someone-else")
    theirs, _ = actions.send_visitor_message(visitor_session=other, text="hi", client_id="c1")
    # Whatever the request names, the file goes to the token's own visitor.
    response = upload(
        widget, samples.png(), conversation_id=str(theirs.conversation_id), client_id="c1"
    )
    assert response.status_code == 201
    mine = Message.objects.get(pk=response.json()["id"])
    assert mine.conversation_id != theirs.conversation_id
    assert mine.conversation.visitor_session_id == visitor.pk
    assert Conversation.objects.get(pk=theirs.conversation_id).messages.count() == 1


def test_the_openapi_schema_describes_the_upload(client, db):
    schema = client.get("/api/widget/openapi.json").json()
    body = schema["paths"]["/api/widget/attachments"]["post"]["requestBody"]
    assert "multipart/form-data" in body["content"]


# --- Serving --------------------------------------------------------------------------------


def test_images_are_served_inline_and_documents_as_downloads(widget):
    image = upload(widget, samples.png(), client_id="a1").json()
    document = upload(widget, samples.pdf(), name="invoice.html", client_id="a2").json()
    shown = Client().get(image["media_url"])
    assert shown["Content-Type"] == "image/png"
    assert shown["Content-Disposition"].startswith("inline")
    assert shown["X-Content-Type-Options"] == "nosniff"
    downloaded = Client().get(document["media_url"])
    assert downloaded["Content-Type"] == "application/pdf"
    assert downloaded["Content-Disposition"] == 'attachment; filename="invoice.pdf"'
    assert downloaded["X-Content-Type-Options"] == "nosniff"
    assert downloaded["Content-Security-Policy"] == "sandbox"


def test_only_stored_attachments_are_served(media, client, db):
    (media / "secret.txt").write_text("not an attachment")
    assert client.get("/media/secret.txt").status_code == 404
    assert client.get("/media/attachments/../secret.txt").status_code == 404
    assert client.get("/media/attachments/nope/nope/a.png").status_code == 404


# --- The body limit in front of Django ------------------------------------------------------


async def test_an_upload_declaring_a_huge_body_is_refused_before_it_is_read(settings):
    settings.WACHAT_ATTACHMENT_MAX_BYTES = 1000
    reached, sent = [], []

    async def django(scope, receive, send):
        reached.append(scope)

    async def receive():
        raise AssertionError("the body was read")

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": URL,
        "headers": [(b"content-length", str(10**9).encode()), (b"origin", b"https://shop.example")],
    }
    await UploadLimit(django)(scope, receive, send)
    assert not reached
    assert sent[0]["status"] == 413
    assert b"too large" in sent[1]["body"]
    # The widget on the customer's site can read why, and tell the visitor.
    assert (b"access-control-allow-origin", b"https://shop.example") in sent[0]["headers"]


async def test_an_upload_without_a_length_is_cut_off_past_the_limit(settings):
    settings.WACHAT_ATTACHMENT_MAX_BYTES = 1000
    chunks = 0

    async def receive():
        nonlocal chunks
        chunks += 1
        return {"type": "http.request", "body": b"x" * 16384, "more_body": True}

    async def django(scope, receive, send):
        while (await receive())["type"] != "http.disconnect":
            pass

    scope = {"type": "http", "method": "POST", "path": URL, "headers": []}
    await UploadLimit(django)(scope, receive, lambda message: None)
    # The limit is 64 KiB of form overhead + 1000 bytes: the fifth 16 KiB chunk passes it.
    assert chunks == 5


async def test_other_paths_pass_through_untouched():
    seen = []

    async def django(scope, receive, send):
        seen.append(scope["path"])

    scope = {"type": "http", "method": "POST", "path": "/api/widget/messages", "headers": []}
    await UploadLimit(django)(scope, None, None)
    assert seen == ["/api/widget/messages"]
