"""Worker tasks of the domain: e-mailed conversation transcripts."""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from huey.contrib.djhuey import db_task

from wachat.conversations.events import is_private
from wachat.conversations.models import Conversation, Message

log = logging.getLogger(__name__)

MAX_MESSAGES = 2000  # a transcript is for reading, not an export


def transcript_lines(conversation):
    """(time, who, text) for what the visitor saw: their messages and the agents'
    answers. Agents' notes, assignment records and other system messages stay out."""
    messages = (
        Message.objects.filter(
            conversation=conversation,
            sender_type__in=[Message.SenderType.VISITOR, Message.SenderType.AGENT],
        )
        .order_by("pk")
        .only("created_at", "sender_type", "content", "media_url", "metadata")[:MAX_MESSAGES]
    )
    lines = []
    for message in messages:
        if is_private(message):
            continue
        if message.sender_type == Message.SenderType.VISITOR:
            who = "You"
        else:
            who = (message.metadata or {}).get("sender_name") or "Agent"
        text = message.content or ("(attachment)" if message.media_url else "")
        when = timezone.localtime(message.created_at).strftime("%Y-%m-%d %H:%M %Z")
        lines.append((when, who, text))
    return lines


def render_transcript(conversation):
    """(subject, plain text, html) of `conversation`'s transcript."""
    lines = transcript_lines(conversation)
    subject = f"Your chat transcript (#{conversation.code})"
    intro = f"Here is the transcript of your chat #{conversation.code}."
    text = "\n".join([intro, ""] + [f"[{when}] {who}: {body}" for when, who, body in lines])
    rows = format_html_join(
        "\n",
        '<tr><td style="color:#54656f;white-space:nowrap;vertical-align:top;padding:4px 8px">'
        '{}</td><td style="font-weight:600;vertical-align:top;padding:4px 8px">{}</td>'
        '<td style="white-space:pre-wrap;padding:4px 8px">{}</td></tr>',
        lines,
    )
    html = format_html(
        '<html><body style="font-family:sans-serif;font-size:14px"><p>{}</p>'
        "<table>{}</table></body></html>",
        intro,
        rows,
    )
    return subject, text + "\n", html


@db_task(retries=3, retry_delay=60)
def email_transcript(conversation_id, email):
    """Send the transcript of one conversation to `email` (checked by the caller)."""
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        return
    subject, text, html = render_transcript(conversation)
    mail = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [email])
    mail.attach_alternative(html, "text/html")
    mail.send()
    log.info("transcript of %s e-mailed", conversation.code)
