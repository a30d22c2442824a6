"""Upload checks for certificates and policy documents (R-SEC-5): the content must really be
one of the allowed types (magic bytes, not the name), at most 5 MB, and a PDF must be a plain
document: no JavaScript, automatic actions, launched programs, embedded files or forms."""

from __future__ import annotations

import io
import logging
import re
from pathlib import PurePosixPath

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from pypdf import PdfReader
from pypdf.errors import PdfReadError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 5 * 1024 * 1024

# content type -> (magic prefix, allowed file name suffixes)
SIGNATURES: dict[str, tuple[bytes, tuple[str, ...]]] = {
    "application/pdf": (b"%PDF-", (".pdf",)),
    "image/png": (b"\x89PNG\r\n\x1a\n", (".png",)),
    "image/jpeg": (b"\xff\xd8\xff", (".jpg", ".jpeg")),
}
CERTIFICATE_TYPES = ("application/pdf", "image/png", "image/jpeg")
POLICY_TYPES = ("application/pdf",)


def sniff(upload: UploadedFile) -> str | None:
    """The content type the file's first bytes prove, or None."""
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    for content_type, (magic, _) in SIGNATURES.items():
        if head.startswith(magic):
            return content_type
    return None


def size_text(max_bytes: int) -> str:
    """A byte limit as people say it: "5 MB", "512 KB"."""
    if max_bytes >= 1024 * 1024:
        return f"{max_bytes / (1024 * 1024):g} MB"
    return f"{max_bytes // 1024} KB"


def check_upload(
    upload: UploadedFile, *, allowed: tuple[str, ...], max_bytes: int = MAX_UPLOAD_BYTES
) -> str:
    """Return the proven content type, or raise a ValidationError a form can show."""
    names = ", ".join(sorted({SIGNATURES[t][1][0].lstrip(".").upper() for t in allowed}))
    if upload.size is None or upload.size > max_bytes:
        raise ValidationError(
            f"The file is larger than {size_text(max_bytes)}.", code="upload_too_large"
        )
    if upload.size == 0:
        raise ValidationError("The file is empty.", code="upload_empty")
    content_type = sniff(upload)
    suffix = PurePosixPath(upload.name or "").suffix.lower()
    if content_type not in allowed or suffix not in SIGNATURES[content_type][1]:
        raise ValidationError(
            f"Only {names} files can be uploaded, and the file must really be one.",
            code="upload_type",
        )
    if content_type == "application/pdf":
        check_pdf_is_plain(upload)
    return content_type


# PDF names that run something when the file is opened or clicked, or carry other files.
ACTIVE_NAMES = frozenset(
    {
        "/JS",
        "/JavaScript",
        "/OpenAction",
        "/AA",
        "/Launch",
        "/EmbeddedFile",
        "/EmbeddedFiles",
        "/RichMedia",
        "/XFA",
        "/SubmitForm",
        "/ImportData",
    }
)
_ACTIVE_BYTES = re.compile(
    rb"/(?:JS|JavaScript|OpenAction|AA|Launch|EmbeddedFiles?|RichMedia|XFA)(?=[\s/<>\[\]()%]|$)"
)
_MAX_OBJECTS = 200_000


def _active_content(reader: PdfReader) -> str | None:
    """The first active name reachable from the document's root, or None."""
    seen: set[tuple[int, int]] = set()
    stack: list = [reader.trailer]
    visited = 0
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            ref = (item.idnum, item.generation)
            if ref in seen:
                continue
            seen.add(ref)
            item = item.get_object()
        visited += 1
        if visited > _MAX_OBJECTS:
            return "too many objects"
        if isinstance(item, DictionaryObject):
            for key, value in item.items():
                if key in ACTIVE_NAMES:
                    return str(key)
                if isinstance(value, NameObject) and value in ACTIVE_NAMES:
                    return str(value)
                stack.append(value)
        elif isinstance(item, ArrayObject):
            stack.extend(item)
    return None


def check_pdf_is_plain(upload: UploadedFile) -> None:
    """Refuse a PDF with active content (R-SEC-5): a certificate or policy is read on staff
    devices and by inspectors, so it must not carry scripts, actions or files. The names are
    looked for in the raw bytes and, with pypdf, in every object reachable from the document
    (compressed object streams and escaped names included)."""
    upload.seek(0)
    data = upload.read()
    upload.seek(0)
    refused = ValidationError(
        "This PDF contains active content (JavaScript, automatic actions, embedded files or "
        "forms) and cannot be uploaded. Print it to a new PDF or scan it, and upload that.",
        code="upload_active_content",
    )
    if _ACTIVE_BYTES.search(data):
        raise refused
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ValidationError(
                "This PDF is protected by a password: upload a copy without one.",
                code="upload_encrypted",
            )
        found = _active_content(reader)
    except ValidationError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, RecursionError) as e:
        logger.info("unreadable PDF upload refused: %s", e)
        raise ValidationError(
            "This PDF could not be read. Save or print it to a new PDF and upload that.",
            code="upload_unreadable",
        ) from None
    if found is not None:
        raise refused


def safe_display_name(name: str) -> str:
    """The original file name reduced to something safe to show and to send back."""
    base = PurePosixPath((name or "").replace("\\", "/")).name
    cleaned = "".join(c for c in base if c.isalnum() or c in "._- ")[:150].strip()
    return cleaned or "document"
