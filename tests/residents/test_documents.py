"""R-RES-7, R-SEC-5: a resident's documents. PDF or image only, by content not by name; a PDF
with active content, an SVG or HTML in disguise, or an over-large file is refused with a clear
message and a 4xx, leaving nothing on disk or in the database; the file is served only through
a permission-checked, no-store view, to the people who may see the resident, and every read is
in the access log. Documents are never edited: a wrong one is withdrawn with a reason."""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from audits.models import AccessLog
from emar.models import AuditEvent, Membership
from medications import services as rx_services
from medications.models import LineDocument
from residents import documents, services
from residents.models import DocumentWithdrawal, ResidentDocument
from tests.factories import staff
from tests.medications.factories import line
from tests.training.factories import pdf_bytes

PDF = pdf_bytes()


def _image(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, fmt)
    return out.getvalue()


PNG = _image("PNG")
JPEG = _image("JPEG")
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(document.cookie)</script></svg>"
)
HTML = b"<!doctype html><html><body><script>fetch('/x?c='+document.cookie)</script></body></html>"


@pytest.fixture
def media(settings) -> Path:
    return Path(settings.MEDIA_ROOT)


def stored_files(media: Path) -> list[Path]:
    folder = media / "residents" / "documents"
    return sorted(p for p in folder.iterdir()) if folder.exists() else []


def upload_url(resident) -> str:
    return reverse("resident_documents", args=[resident.pk])


def post(client, resident, name: str, content: bytes, **extra):
    data = {
        "kind": "discharge_letter",
        "title": "Discharge letter, Royal Infirmary",
        "upload": SimpleUploadedFile(name, content),
        "idempotency_key": str(uuid.uuid4()),
        **extra,
    }
    return client.post(upload_url(resident), data)


def upload(resident, by, content: bytes = PDF, name: str = "letter.pdf", **kwargs):
    return documents.document_upload(
        resident=resident,
        by=by,
        kind=kwargs.pop("kind", "discharge_letter"),
        title=kwargs.pop("title", "Discharge letter"),
        upload=SimpleUploadedFile(name, content),
        **kwargs,
    )


# --- Upload ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("letter.pdf", PDF, "application/pdf"),
        ("scan.png", PNG, "image/png"),
        ("photo.jpg", JPEG, "image/jpeg"),
        ("photo.jpeg", JPEG, "image/jpeg"),
    ],
)
def test_a_senior_uploads_a_pdf_or_an_image(
    client, senior_a, resident_a, media, name, content, content_type
):
    client.force_login(senior_a)
    response = post(client, resident_a, name, content)
    assert response.status_code == 302
    document = ResidentDocument.objects.get()
    assert (document.content_type, document.size, document.original_name) == (
        content_type,
        len(content),
        name,
    )
    assert document.uploaded_by == senior_a and document.resident == resident_a
    # Stored under an unguessable name that says nothing of the resident or the letter.
    assert re.fullmatch(r"residents/documents/[0-9a-f]{32}\.(pdf|png|jpg)", document.file.name)
    assert stored_files(media) == [media / document.file.name]
    assert (media / document.file.name).read_bytes() == content
    event = AuditEvent.objects.get(action="resident.document.uploaded")
    assert event.after["sha256"] == document.sha256 and event.record_digest


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("drawing.svg", SVG),
        ("photo.jpg", SVG),  # a script in an SVG named .jpg
        ("photo.jpg", HTML),  # HTML named .jpg
        ("letter.pdf", HTML),
        ("letter.pdf", PNG),  # a real image with a PDF's name
        ("notes.txt", b"plain text"),
        ("letter.pdf", pdf_bytes(javascript="app.alert('hi')")),
    ],
    ids=["svg", "svg-named-jpg", "html-named-jpg", "html-named-pdf", "png-named-pdf", "text", "js"],
)
def test_anything_but_a_plain_pdf_or_image_is_refused(
    client, senior_a, resident_a, media, name, content
):
    client.force_login(senior_a)
    response = post(client, resident_a, name, content)
    assert response.status_code == 400
    text = response.content.decode()
    assert "Only" in text or "active content" in text
    assert not ResidentDocument.objects.exists()
    assert stored_files(media) == []
    assert not AuditEvent.objects.filter(action__startswith="resident.document").exists()


def test_a_pdf_with_javascript_is_refused_by_the_service_with_its_code(senior_a, resident_a):
    with pytest.raises(documents.DocumentError) as refused:
        upload(resident_a, senior_a, pdf_bytes(javascript="app.alert(1)"))
    assert refused.value.code == "upload_active_content"


def test_an_empty_file_is_refused(client, senior_a, resident_a, media):
    client.force_login(senior_a)
    response = post(client, resident_a, "letter.pdf", b"")
    assert response.status_code == 400
    assert not ResidentDocument.objects.exists() and stored_files(media) == []


def test_a_50_mb_upload_is_refused_with_413_before_its_body_is_read(
    client, senior_a, resident_a, media
):
    """The test client's body would fail loudly if read past what was sent: the announced
    50 MB is refused from the Content-Length alone."""
    client.force_login(senior_a)
    response = client.generic(
        "POST",
        upload_url(resident_a),
        data=b"--x--\r\n",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(50 * 1024 * 1024),
    )
    assert response.status_code == 413
    assert "larger than 10 MB" in response.content.decode()
    assert not ResidentDocument.objects.exists() and stored_files(media) == []


def test_a_real_50_mb_file_is_refused_with_a_clear_message(client, senior_a, resident_a, media):
    client.force_login(senior_a)
    big = b"%PDF-1.4\n" + b"0" * (50 * 1024 * 1024)
    response = post(client, resident_a, "letter.pdf", big)
    assert response.status_code == 413
    assert "larger than 10 MB" in response.content.decode()
    assert not ResidentDocument.objects.exists() and stored_files(media) == []


def test_the_service_refuses_a_file_over_the_configured_limit(settings, senior_a, resident_a):
    settings.DOCUMENT_UPLOAD_MAX_MB = 1
    with pytest.raises(documents.DocumentError) as refused:
        upload(resident_a, senior_a, b"%PDF-1.4\n" + b"0" * (1024 * 1024 + 1))
    assert refused.value.code == "upload_too_large"
    assert "larger than 1 MB" in refused.value.messages[0]


def test_nothing_half_written_when_the_record_fails(monkeypatch, senior_a, resident_a, media):
    """The file is written last before the row; if the row or its audit entry fails, the file
    is removed again and the row rolled back."""

    def broken(**kwargs):
        raise RuntimeError("audit trail unavailable")

    monkeypatch.setattr(documents, "audit_append", broken)
    with pytest.raises(RuntimeError):
        upload(resident_a, senior_a)
    assert not ResidentDocument.objects.exists()
    assert stored_files(media) == []


def test_the_same_upload_submitted_twice_is_stored_once(client, senior_a, resident_a, media):
    client.force_login(senior_a)
    key = str(uuid.uuid4())
    for _ in range(2):
        response = post(client, resident_a, "letter.pdf", PDF, idempotency_key=key)
        assert response.status_code == 302
    assert ResidentDocument.objects.count() == 1
    assert len(stored_files(media)) == 1


def test_a_carer_and_an_inspector_cannot_upload(client, carer_a, inspector_a, resident_a):
    for user in (carer_a, inspector_a):
        client.force_login(user)
        assert post(client, resident_a, "letter.pdf", PDF).status_code == 403
    assert not ResidentDocument.objects.exists()


def test_another_residents_reconciliation_is_refused(senior_a, resident_a, unit_a):
    from tests.residents.factories import resident

    other = resident(unit_a, senior_a)
    rec = services.reconciliation_start(
        resident=other,
        by=senior_a,
        reason="admission",
        arrived_on=other.home.local_today(),
        sources=["gp_record"],
    )
    with pytest.raises(documents.DocumentError) as refused:
        upload(resident_a, senior_a, reconciliation=rec)
    assert refused.value.code == "wrong_reconciliation"


# --- Serving --------------------------------------------------------------------------------


def test_the_file_is_served_private_no_store_nosniff_with_its_type_and_name(
    client, carer_a, senior_a, resident_a
):
    document = upload(resident_a, senior_a, name="Letter 3 Nov.pdf")
    client.force_login(carer_a)
    response = client.get(reverse("resident_document", args=[document.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == 'inline; filename="Letter 3 Nov.pdf"'


def test_an_image_is_served_with_the_type_its_content_proved(client, senior_a, resident_a):
    document = upload(resident_a, senior_a, PNG, name="scan.PNG")
    client.force_login(senior_a)
    response = client.get(reverse("resident_document", args=[document.pk]))
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_there_is_no_public_media_url(client, senior_a, resident_a, settings):
    document = upload(resident_a, senior_a)
    client.force_login(senior_a)
    assert client.get(settings.MEDIA_URL + document.file.name).status_code == 404
    assert client.get("/media/" + document.file.name).status_code == 404


def test_an_outsider_gets_404(client, carer_b, senior_a, resident_a):
    document = upload(resident_a, senior_a)
    client.force_login(carer_b)
    assert client.get(reverse("resident_document", args=[document.pk])).status_code == 404
    assert client.get(upload_url(resident_a)).status_code == 404
    assert post(client, resident_a, "letter.pdf", PDF).status_code == 404
    withdraw = reverse("document_withdraw", args=[document.pk])
    assert client.post(withdraw, {"reason": "x"}).status_code == 404


def test_anonymous_is_sent_to_login(client, senior_a, resident_a):
    document = upload(resident_a, senior_a)
    response = client.get(reverse("resident_document", args=[document.pk]))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_an_inspector_reads_while_access_lasts_and_every_read_is_logged(
    client, inspector_a, carer_a, senior_a, resident_a, home_a
):
    document = upload(resident_a, senior_a)
    url = reverse("resident_document", args=[document.pk])
    client.force_login(inspector_a)
    assert client.get(url).status_code == 200
    assert client.get(upload_url(resident_a)).status_code == 200
    client.force_login(carer_a)
    assert client.get(url).status_code == 200
    logs = list(
        AccessLog.objects.filter(path=url).order_by("pk").values_list("user", "role", "action")
    )
    assert logs == [(inspector_a.pk, "inspector", "download"), (carer_a.pk, "carer", "download")]
    log = AccessLog.objects.filter(path=url).first()
    assert (log.home, log.object_type, log.object_id) == (
        home_a,
        "residents.ResidentDocument",
        str(document.pk),
    )
    assert log.what == "letter.pdf"
    Membership.objects.filter(user=inspector_a).update(
        expires_at=timezone.now() - dt.timedelta(days=1)
    )
    client.force_login(inspector_a)
    assert client.get(url).status_code == 404


def test_an_inspector_of_another_home_gets_404(client, home_b, senior_a, resident_a):
    document = upload(resident_a, senior_a)
    client.force_login(staff(home_b, "inspector", username="inspector_b"))
    assert client.get(reverse("resident_document", args=[document.pk])).status_code == 404


# --- Withdrawal -----------------------------------------------------------------------------


def test_a_wrong_upload_is_withdrawn_with_a_reason_and_stays_readable(
    client, senior_a, resident_a, media
):
    document = upload(resident_a, senior_a)
    client.force_login(senior_a)
    url = reverse("document_withdraw", args=[document.pk])
    assert client.post(url, {"reason": ""}).status_code == 400
    assert not DocumentWithdrawal.objects.exists()
    assert client.post(url, {"reason": "Another resident's letter"}).status_code == 302
    assert client.post(url, {"reason": "Again"}).status_code == 302  # a double tap
    withdrawal = DocumentWithdrawal.objects.get()
    assert (withdrawal.reason, withdrawal.withdrawn_by) == ("Another resident's letter", senior_a)
    assert AuditEvent.objects.filter(action="resident.document.withdrawn").count() == 1
    # The record and its file stay; the lists say it is withdrawn.
    assert (media / document.file.name).exists()
    assert client.get(reverse("resident_document", args=[document.pk])).status_code == 200
    page = client.get(upload_url(resident_a)).content.decode()
    assert "Withdrawn" in page and "Another resident&#x27;s letter" in page


def test_a_carer_cannot_withdraw(client, carer_a, senior_a, resident_a):
    document = upload(resident_a, senior_a)
    client.force_login(carer_a)
    url = reverse("document_withdraw", args=[document.pk])
    assert client.post(url, {"reason": "No"}).status_code == 403


# --- Where documents are shown and linked ---------------------------------------------------


def test_listed_on_the_resident_record(client, carer_a, senior_a, resident_a):
    document = upload(resident_a, senior_a, title="GP letter about warfarin")
    client.force_login(carer_a)
    page = client.get(reverse("medications:resident_profile", args=[resident_a.pk]))
    text = page.content.decode()
    assert "GP letter about warfarin" in text
    assert reverse("resident_document", args=[document.pk]) in text


def test_a_discharge_letter_is_a_source_of_its_reconciliation(client, senior_a, resident_a):
    rec = services.reconciliation_start(
        resident=resident_a,
        by=senior_a,
        reason="hospital_return",
        arrived_on=resident_a.home.local_today(),
        sources=["discharge_letter"],
    )
    client.force_login(senior_a)
    form = client.get(upload_url(resident_a), {"reconciliation": rec.pk}).content.decode()
    assert f'<option value="{rec.pk}" selected>' in form
    assert post(client, resident_a, "letter.pdf", PDF, reconciliation=rec.pk).status_code == 302
    document = ResidentDocument.objects.get()
    assert document.reconciliation == rec
    page = client.get(reverse("reconciliation_detail", args=[rec.pk])).content.decode()
    assert reverse("resident_document", args=[document.pk]) in page


def test_a_document_is_linked_to_the_line_and_shown_with_its_covert_plan(
    client, senior_a, senior2_a, resident_a, unit_a
):
    from tests.residents.factories import resident

    live = line(resident_a, senior_a, checker=senior2_a)
    plan = upload(resident_a, senior_a, kind="covert_plan", title="Best interests meeting")
    client.force_login(senior_a)
    url = reverse("medications:line_documents", args=[live.pk])
    assert client.post(url, {"document": ""}).status_code == 400
    response = client.post(url, {"document": plan.pk, "back": "covert_plan"})
    assert response.status_code == 302
    assert response["Location"] == reverse("medications:covert_plan", args=[live.pk])
    assert client.post(url, {"document": plan.pk}).status_code == 400  # no longer offered
    assert rx_services.line_document_link(line=live, document=plan, by=senior_a).pk == (
        LineDocument.objects.get().pk
    )  # the same pair again: the first link
    href = reverse("resident_document", args=[plan.pk])
    for page in ("medications:line_detail", "medications:covert_plan"):
        assert href in client.get(reverse(page, args=[live.pk])).content.decode(), page
    # Another resident's document, or a withdrawn one, cannot be linked.
    other = upload(resident(unit_a, senior_a), senior_a)
    with pytest.raises(rx_services.LineDocumentError) as refused:
        rx_services.line_document_link(line=live, document=other, by=senior_a)
    assert refused.value.code == "wrong_resident"
    wrong = upload(resident_a, senior_a, title="Wrong letter")
    documents.document_withdraw(document=wrong, by=senior_a, reason="Uploaded twice")
    with pytest.raises(rx_services.LineDocumentError) as refused:
        rx_services.line_document_link(line=live, document=wrong, by=senior_a)
    assert refused.value.code == "document_withdrawn"


def test_a_carer_sees_linked_documents_but_cannot_link(
    client, carer_a, senior_a, senior2_a, unit_a
):
    from tests.residents.factories import resident

    person = resident(unit_a, senior_a)
    live = line(person, senior_a, checker=senior2_a)
    plan = upload(person, senior_a)
    rx_services.line_document_link(line=live, document=plan, by=senior_a)
    client.force_login(carer_a)
    page = client.get(reverse("medications:line_detail", args=[live.pk])).content.decode()
    assert reverse("resident_document", args=[plan.pk]) in page
    assert reverse("medications:line_documents", args=[live.pk]) not in page
    url = reverse("medications:line_documents", args=[live.pk])
    assert client.post(url, {"document": plan.pk}).status_code == 403
