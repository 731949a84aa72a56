"""Attachments: the content check, and the actions that store a file and write its
message (dedupe, events, nothing half-written)."""

import pytest
from django.core.files.storage import default_storage

from wachat.conversations import actions, attachments
from wachat.conversations.attachments import InvalidAttachment, check, clean_filename
from wachat.conversations.models import Conversation, Message
from wachat.conversations.tests import samples


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def stored_files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# --- The content check ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, kind, mime_type",
    [
        (samples.png(), "image", "image/png"),
        (samples.jpeg(), "image", "image/jpeg"),
        (samples.pdf(), "document", "application/pdf"),
        (
            samples.office("word/"),
            "document",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            samples.office("xl/"),
            "document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        (
            samples.office("ppt/"),
            "document",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
        ("Grüße, order #4411\r\n".encode(), "document", "text/plain"),
    ],
)
def test_accepted_files_are_recognised_by_their_content(content, kind, mime_type):
    checked = check(content)
    assert (checked.kind, checked.mime_type) == (kind, mime_type)


@pytest.mark.parametrize(
    "content",
    [
        samples.exe(),  # a program renamed photo.png
        b"\x7fELF\x02\x01\x01" + b"\x00" * 100,
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 20,
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,  # legacy .doc
        b"caf\xe9 latin-1 text",  # not UTF-8
        b"text with a \x00 byte",
    ],
)
def test_other_types_are_refused_as_unsupported(content):
    with pytest.raises(InvalidAttachment) as refused:
        check(content)
    assert refused.value.status == 415


@pytest.mark.parametrize(
    "markup",
    [
        b"<!DOCTYPE html><html><script>alert(1)</script></html>",
        b"\xef\xbb\xbf  <html><body>hi</body></html>",
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        b'<?xml version="1.0"?><x/>',
    ],
)
def test_html_renamed_to_png_is_refused_not_taken_as_text(markup):
    with pytest.raises(InvalidAttachment, match="Web pages and markup"):
        check(markup)


def test_a_zip_that_is_not_an_office_file_is_refused():
    with pytest.raises(InvalidAttachment, match="ZIP archives are not accepted"):
        check(samples.office("stuff/"))


def test_an_office_file_with_macros_is_refused():
    with pytest.raises(InvalidAttachment, match="macros"):
        check(samples.office("word/", extra=["word/vbaProject.bin"]))


@pytest.mark.parametrize(
    "content",
    [
        samples.png()[:-12],  # no IEND: the download stopped early
        samples.jpeg()[:-2],
        samples.pdf()[:20],
        samples.office("word/")[:40],
    ],
)
def test_truncated_files_are_refused_as_damaged(content):
    with pytest.raises(InvalidAttachment, match="damaged or incomplete") as refused:
        check(content)
    assert refused.value.status == 400


def test_an_empty_file_is_refused():
    with pytest.raises(InvalidAttachment, match="The file is empty.") as refused:
        check(b"")
    assert refused.value.status == 400


def test_a_file_over_the_limit_is_refused_with_its_size(settings):
    settings.WACHAT_ATTACHMENT_MAX_BYTES = 1024 * 1024
    with pytest.raises(InvalidAttachment) as refused:
        check(samples.pdf() + b" " * (2 * 1024 * 1024))
    assert refused.value.status == 413
    assert str(refused.value) == "The file is too large (2.0 MB; the limit is 1.0 MB)."


def test_an_image_over_whatsapps_5_mb_is_refused():
    with pytest.raises(InvalidAttachment, match="at most 5.0 MB on WhatsApp") as refused:
        check(samples.jpeg(6 * 1024 * 1024))
    assert refused.value.status == 413


@pytest.mark.parametrize(
    "name, extension, cleaned",
    [
        ("holiday photo.JPEG", ".jpg", "holiday photo.jpg"),
        ("../../etc/passwd", ".txt", "passwd.txt"),
        ("C:\\Users\\me\\invoice.html", ".pdf", "invoice.pdf"),
        ("<script>.png", ".png", "script.png"),
        (".htaccess", ".txt", "htaccess.txt"),
        ("", ".pdf", "attachment.pdf"),
        ("x" * 300 + ".pdf", ".pdf", "x" * 80 + ".pdf"),
    ],
)
def test_file_names_are_cleaned_and_take_the_real_types_extension(name, extension, cleaned):
    assert clean_filename(name, extension) == cleaned


# --- The actions ----------------------------------------------------------------------------


def test_a_visitors_image_becomes_a_message_with_its_file_stored(visitor, media, published):
    message, created = actions.send_visitor_attachment(
        visitor_session=visitor,
        content=samples.png(),
        filename="cat.png",
        client_id="a1",
        caption="  my cat ",
    )
    assert created
    assert (message.message_type, message.content, message.sender_type) == (
        "image",
        "my cat",
        "visitor",
    )
    name = message.metadata["storage_name"]
    conversation = Conversation.objects.get(pk=message.conversation_id)
    assert name.startswith(f"attachments/{conversation.pk}/") and name.endswith("/cat.png")
    assert len(name.split("/")[2]) == 32  # the unguessable part
    assert message.metadata == {
        "storage_name": name,
        "mime_type": "image/png",
        "filename": "cat.png",
        "size": len(samples.png()),
    }
    assert message.media_url == default_storage.url(name)
    assert (media / name).read_bytes() == samples.png()
    created_events = [event for _, kind, event in published if kind == "message.created"]
    shown = [e["message"] for e in created_events if e["message"]["id"] == message.pk]
    assert shown and shown[0]["attachment"] == {
        "filename": "cat.png",
        "size": len(samples.png()),
        "mime_type": "image/png",
    }
    groups = {group for group, kind, event in published if kind == "message.created"}
    assert f"visitor.{visitor.pk}" in groups and "agents.supervisors" in groups


def test_a_retried_upload_returns_the_first_message_and_stores_nothing_twice(visitor, media):
    first, _ = actions.send_visitor_attachment(
        visitor_session=visitor, content=samples.pdf(), filename="a.pdf", client_id="a1"
    )
    again, created = actions.send_visitor_attachment(
        visitor_session=visitor, content=samples.pdf(), filename="a.pdf", client_id="a1"
    )
    assert not created and again.pk == first.pk
    assert Message.objects.filter(client_id="a1").count() == 1
    assert stored_files(media) == [first.metadata["storage_name"]]


def test_a_later_attachment_joins_the_visitors_open_conversation(visitor, media):
    text, _ = actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="t1")
    image, _ = actions.send_visitor_attachment(
        visitor_session=visitor, content=samples.png(), filename="p.png", client_id="a1"
    )
    assert image.conversation_id == text.conversation_id


def test_when_the_row_cannot_be_written_the_file_is_deleted(visitor, media, monkeypatch):
    def broken(message, duplicates):
        raise RuntimeError("database went away")

    monkeypatch.setattr(actions, "_save_new_message", broken)
    with pytest.raises(RuntimeError):
        actions.send_visitor_attachment(
            visitor_session=visitor, content=samples.pdf(), filename="a.pdf", client_id="a1"
        )
    assert stored_files(media) == []
    assert not Message.objects.exists()


def test_when_storage_fails_no_message_is_written(visitor, media, monkeypatch):
    def full(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(default_storage, "save", full)
    with pytest.raises(OSError):
        actions.send_visitor_attachment(
            visitor_session=visitor, content=samples.pdf(), filename="a.pdf", client_id="a1"
        )
    assert not Message.objects.exists()
    assert not Conversation.objects.exists()


def test_a_refused_file_stores_nothing(visitor, media):
    with pytest.raises(InvalidAttachment):
        actions.send_visitor_attachment(
            visitor_session=visitor, content=samples.exe(), filename="cat.png", client_id="a1"
        )
    assert stored_files(media) == []
    assert not Message.objects.exists()


def test_an_agents_document_is_an_agent_message_with_their_name(bob, visitor, media):
    text, _ = actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="t1")
    conversation = Conversation.objects.get(pk=text.conversation_id)
    message, created = actions.send_agent_attachment(
        conversation=conversation,
        agent=bob,
        content=samples.office("xl/"),
        filename="prices.xlsx",
        client_id="d1",
        caption="Our prices",
    )
    assert created
    assert (message.message_type, message.sender_type, message.sender_id) == (
        "document",
        "agent",
        bob.pk,
    )
    assert message.metadata["sender_name"] == "Bob"
    assert message.metadata["filename"] == "prices.xlsx"
    assert message.content == "Our prices"
    again, created = actions.send_agent_attachment(
        conversation=conversation,
        agent=bob,
        content=samples.office("xl/"),
        filename="prices.xlsx",
        client_id="d1",
    )
    assert not created and again.pk == message.pk
    assert len(stored_files(media)) == 1


def test_a_too_long_caption_is_refused_before_anything_is_stored(visitor, media):
    with pytest.raises(InvalidAttachment, match="caption is too long"):
        actions.send_visitor_attachment(
            visitor_session=visitor,
            content=samples.pdf(),
            filename="a.pdf",
            client_id="a1",
            caption="x" * (attachments.CAPTION_MAX_CHARS + 1),
        )
    assert stored_files(media) == []
