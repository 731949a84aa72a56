"""Files visitors and agents attach: checked by their content (magic bytes), never by
name or declared type; stored under an unguessable path; served with headers that keep a
hostile file from running in our origin.

We accept what WhatsApp can deliver, since any attachment may be relayed to an agent's
phone or sent to a customer's WhatsApp:
https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types
- images: JPEG and PNG, WhatsApp's two image types, up to WhatsApp's 5 MB image limit
  (a bigger one is refused: Meta checks an upload's limit by its MIME type, so it cannot
  go as a document either);
- documents: PDF, Word/Excel/PowerPoint (.docx, .xlsx, .pptx) and plain UTF-8 text.

Refused, with a reason the sender can act on:
- GIF and WebP: WhatsApp takes neither as an image nor as a document (WebP only as a
  sticker), so we could store them but never deliver them;
- legacy .doc/.xls/.ppt: the three share one container format, and telling them apart
  means parsing it; the modern formats are one "Save as" away;
- Office files with macros, and text that is HTML, SVG or XML markup.
"""

import io
import json
import mimetypes
import re
import unicodedata
import uuid
import zipfile
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.views.decorators.http import require_safe

IMAGE, DOCUMENT = "image", "document"  # Message.Type values
WHATSAPP_IMAGE_MAX_BYTES = 5 * 1024 * 1024
OFFICE = {
    "word/": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"),
    "xl/": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
    "ppt/": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", ".pptx"),
}
MARKUP = re.compile(rb"^\s*<(?:!doctype|html|head|body|script|svg|\?xml|iframe|object)\b", re.I)
CAPTION_MAX_CHARS = 900  # WhatsApp allows 1024; the relay adds the code and visitor's name


class InvalidAttachment(ValueError):
    """The file cannot be attached; the message says why, `status` is the HTTP answer."""

    def __init__(self, detail, status=415):
        super().__init__(detail)
        self.status = status


@dataclass(frozen=True)
class Checked:
    kind: str  # IMAGE or DOCUMENT
    mime_type: str
    extension: str


def read(upload):
    """The bytes of an uploaded file; one over the limit is refused unread."""
    limit = settings.WACHAT_ATTACHMENT_MAX_BYTES
    if upload.size > limit:
        raise InvalidAttachment(_too_large(upload.size, limit), status=413)
    return upload.read(limit + 1)


def check(content):
    """What `content` is (a Checked), or InvalidAttachment. Judged by the bytes only."""
    size, limit = len(content), settings.WACHAT_ATTACHMENT_MAX_BYTES
    if not size:
        raise InvalidAttachment("The file is empty.", status=400)
    if size > limit:
        raise InvalidAttachment(_too_large(size, limit), status=413)
    if content.startswith(b"\xff\xd8\xff"):
        # Ends with the End Of Image marker (cameras may pad a little after it).
        _complete(b"\xff\xd9" in content[-1024:])
        return _image("image/jpeg", ".jpg", size)
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        _complete(content[12:16] == b"IHDR" and content[-8:-4] == b"IEND")
        return _image("image/png", ".png", size)
    if b"%PDF-" in content[:1024]:
        _complete(b"%%EOF" in content[-1024:])
        return Checked(DOCUMENT, "application/pdf", ".pdf")
    if content.startswith(b"PK\x03\x04"):
        return _office(content)
    if content.startswith((b"GIF87a", b"GIF89a")) or content[8:12] == b"WEBP":
        raise InvalidAttachment("GIF and WebP images cannot go over WhatsApp: use JPEG or PNG.")
    if content.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise InvalidAttachment(
            "Old Office files (.doc, .xls, .ppt) are not accepted: save as .docx, .xlsx, "
            ".pptx or PDF."
        )
    if _is_text(content):
        if MARKUP.match(content.removeprefix(b"\xef\xbb\xbf")):
            raise InvalidAttachment("Web pages and markup files are not accepted.")
        return Checked(DOCUMENT, "text/plain", ".txt")
    raise InvalidAttachment(
        "This type of file cannot be sent. Send a JPEG or PNG image, a PDF, a Word, Excel or "
        "PowerPoint file, or plain text."
    )


def _image(mime_type, extension, size):
    if size > WHATSAPP_IMAGE_MAX_BYTES:
        raise InvalidAttachment(
            f"Images can be at most {_megabytes(WHATSAPP_IMAGE_MAX_BYTES)} on WhatsApp (this one "
            f"is {_megabytes(size)}): make it smaller, or send it as a PDF.",
            status=413,
        )
    return Checked(IMAGE, mime_type, extension)


def _complete(ok):
    if not ok:
        raise InvalidAttachment("The file is damaged or incomplete.", status=400)


def _office(content):
    """A .docx/.xlsx/.pptx is a ZIP holding [Content_Types].xml and its word/, xl/ or
    ppt/ part. Only the directory is read: nothing is decompressed (no zip bombs)."""
    try:
        names = zipfile.ZipFile(io.BytesIO(content)).namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise InvalidAttachment("The file is damaged or incomplete.", status=400) from None
    if "[Content_Types].xml" in names:
        for prefix, (mime_type, extension) in OFFICE.items():
            if any(name.startswith(prefix) for name in names):
                if any(name.lower().endswith("vbaproject.bin") for name in names):
                    raise InvalidAttachment("Office files with macros are not accepted.")
                return Checked(DOCUMENT, mime_type, extension)
    raise InvalidAttachment(
        "ZIP archives are not accepted; Word, Excel and PowerPoint files (.docx, .xlsx, .pptx) are."
    )


def _is_text(content):
    if b"\0" in content:
        return False
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _too_large(size, limit):
    return f"The file is too large ({_megabytes(size)}; the limit is {_megabytes(limit)})."


def _megabytes(size):
    return f"{size / (1024 * 1024):.1f} MB"


def clean_caption(caption):
    caption = (caption or "").strip()
    if len(caption) > CAPTION_MAX_CHARS:
        raise InvalidAttachment(
            f"The caption is too long ({len(caption)} characters; the limit is "
            f"{CAPTION_MAX_CHARS}).",
            status=400,
        )
    return caption


def clean_filename(name, extension):
    """The name the sender gave, safe to show and to store: no folders, control or
    shell-special characters, at most 80 characters, with the extension of what the file
    really is (a PDF named "invoice.html" becomes "invoice.pdf")."""
    name = unicodedata.normalize("NFKC", str(name or "")).replace("\\", "/").rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    stem = re.sub(r"[^\w\-. ()]+", "_", stem, flags=re.UNICODE)
    stem = re.sub(r"[\s_]+", lambda m: m.group(0)[0], stem).strip(" ._")[:80]
    return (stem or "attachment") + extension


def store(content, *, folder, filename):
    """Save `content` under attachments/<folder>/<random>/<filename>; returns the storage
    name. The random part makes the URL unguessable: knowing it is the permission to read."""
    return default_storage.save(
        f"attachments/{folder}/{uuid.uuid4().hex}/{filename}", ContentFile(content)
    )


def delete(name):
    try:
        default_storage.delete(name)
    except OSError:
        pass  # already gone, or storage down: an orphan file is harmless


# --- Bounding the request body --------------------------------------------------------------

WIDGET_PATH = "/api/widget/"
UPLOAD_PATHS = re.compile(r"^/(?:api/widget/attachments|center/conversations/[^/]+/attachments)$")
FORM_OVERHEAD = 64 * 1024  # multipart framing, client_id and caption around the file


class UploadLimit:
    """ASGI wrapper: Django reads a whole request body before any view runs, so an upload
    over the limit is refused here, before it is read (413 on its Content-Length; a body
    without one is cut off once it passes the limit)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not UPLOAD_PATHS.match(scope["path"]):
            return await self.app(scope, receive, send)
        limit = settings.WACHAT_ATTACHMENT_MAX_BYTES + FORM_OVERHEAD
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            detail = _too_large(int(declared), settings.WACHAT_ATTACHMENT_MAX_BYTES)
            body = json.dumps({"detail": detail}).encode()
            headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
            origin = dict(scope["headers"]).get(b"origin")
            if origin and scope["path"].startswith(WIDGET_PATH):
                # As widget.middleware does for every widget answer: the site the widget
                # runs on may read why (a refusal grants nothing), and tell the visitor.
                headers += [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
            await send({"type": "http.response.start", "status": 413, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        received = 0

        async def bounded():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                return {"type": "http.disconnect"}  # Django stops reading and answers nothing
            return message

        return await self.app(scope, bounded, send)


# --- Serving --------------------------------------------------------------------------------

SERVED = ("attachments/", "whatsapp/")  # what we store; never anything else in MEDIA_ROOT
INLINE = {"image/jpeg", "image/png", "image/webp", "image/gif"}  # raster only, never SVG


@require_safe
def serve(request, name):
    """/media/<name>: images inline (the widget and the Center show them), everything else
    as a download. nosniff and a sandbox CSP, so no stored file runs as a page of ours.
    In production, object storage or a proxy in front can serve MEDIA_URL instead."""
    if not name.startswith(SERVED) or ".." in name.split("/"):
        raise Http404("No such file.")
    try:
        stored = default_storage.open(name)
    except (OSError, SuspiciousFileOperation):
        raise Http404("No such file.") from None
    mime_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    inline = mime_type in INLINE
    if mime_type == "text/plain":
        mime_type = "text/plain; charset=utf-8"
    response = FileResponse(
        stored, content_type=mime_type, as_attachment=not inline, filename=name.rsplit("/", 1)[-1]
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    return response
