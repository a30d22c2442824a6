"""Upload checks for certificates and policy documents (R-SEC-5): the content must really be
one of the allowed types (magic bytes, not the name) and at most 5 MB."""

from __future__ import annotations

from pathlib import PurePosixPath

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

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


def check_upload(upload: UploadedFile, *, allowed: tuple[str, ...]) -> str:
    """Return the proven content type, or raise a ValidationError a form can show."""
    names = ", ".join(sorted({SIGNATURES[t][1][0].lstrip(".").upper() for t in allowed}))
    if upload.size is None or upload.size > MAX_UPLOAD_BYTES:
        raise ValidationError("The file is larger than 5 MB.", code="upload_too_large")
    if upload.size == 0:
        raise ValidationError("The file is empty.", code="upload_empty")
    content_type = sniff(upload)
    suffix = PurePosixPath(upload.name or "").suffix.lower()
    if content_type not in allowed or suffix not in SIGNATURES[content_type][1]:
        raise ValidationError(
            f"Only {names} files can be uploaded, and the file must really be one.",
            code="upload_type",
        )
    return content_type


def safe_display_name(name: str) -> str:
    """The original file name reduced to something safe to show and to send back."""
    base = PurePosixPath((name or "").replace("\\", "/")).name
    cleaned = "".join(c for c in base if c.isalnum() or c in "._- ")[:150].strip()
    return cleaned or "document"
