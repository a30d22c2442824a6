"""R-AUD-1..4: preparing, completing and signing the monthly audit; the stored PDF report; the
beat task and the `audit_report` command (R-RUN-4)."""

from __future__ import annotations

import datetime as dt
import io
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from pypdf import PdfReader

from audits import services, tasks
from audits.models import Audit, AuditReport, ChecklistQuestion, previous_month


def answer_all(audit, by, answer="yes", **special):
    answers = {
        q.pk: (special.get(q.code, answer), "Found" if special.get(q.code) == "no" else "")
        for q in ChecklistQuestion.objects.filter(active=True)
    }
    services.checklist_save(audit=audit, answers=answers, by=by)


@pytest.fixture
def audit(home_a, manager_a):
    return services.audit_prepare(
        home=home_a, month=previous_month(home_a.local_today()), by=manager_a
    )


def test_prepare_is_idempotent_per_home_and_month(home_a, manager_a):
    month = previous_month(home_a.local_today())
    first = services.audit_prepare(home=home_a, month=month, by=manager_a)
    again = services.audit_prepare(home=home_a, month=month.replace(day=15), by=None)
    assert first.pk == again.pk and Audit.objects.count() == 1
    assert first.metrics["month"] == month.isoformat()


def test_a_future_month_cannot_be_prepared(home_a, manager_a):
    future = (home_a.local_today().replace(day=28) + dt.timedelta(days=10)).replace(day=1)
    with pytest.raises(services.AuditError) as e:
        services.audit_prepare(home=home_a, month=future, by=manager_a)
    assert e.value.code == "future_month"


def test_beat_prepares_last_months_audit_for_every_home(home_a, home_b):
    assert tasks.monthly_audits_prepare.delay().get() == 2
    assert tasks.monthly_audits_prepare.delay().get() == 0  # a second run adds nothing
    assert set(Audit.objects.values_list("month", flat=True)) == {
        previous_month(home_a.local_today())
    }


def test_the_report_task_is_acks_late_and_retried():
    for task in (tasks.audit_report_build, tasks.evidence_pack_build, tasks.monthly_audits_prepare):
        assert task.acks_late is True
        assert task.max_retries == 5


def test_score_and_rating_from_the_checklist(audit, manager_a):
    answer_all(audit, manager_a, **{"storage-dates": "no", "cd-checks": "no", "covert-plans": "na"})
    from audits.selectors import score

    s = score(audit)
    assert (s.yes, s.no, s.na, s.unanswered) == (17, 2, 1, 0)
    assert s.percent == 89 and s.rag == "amber"


def test_a_no_needs_a_comment(audit, manager_a):
    q = ChecklistQuestion.objects.first()
    with pytest.raises(services.AuditError) as e:
        services.checklist_save(audit=audit, answers={q.pk: ("no", "  ")}, by=manager_a)
    assert e.value.code == "comment_required"


def test_signing_needs_every_question_answered(audit, manager_a):
    with pytest.raises(services.AuditError) as e:
        services.audit_sign(audit=audit, by=manager_a)
    assert e.value.code == "checklist_incomplete"


def test_sign_off_locks_the_audit(audit, manager_a):
    answer_all(audit, manager_a)
    action = services.action_add(
        audit=audit, description="Fix it", owner=manager_a, due_on=dt.date(2030, 1, 1), by=manager_a
    )
    signed = services.audit_sign(audit=audit, by=manager_a, summary="All good")
    assert signed.is_signed and signed.score == 100 and signed.rag == "green"
    frozen = dict(signed.metrics)
    q = ChecklistQuestion.objects.first()
    for attempt in (
        lambda: services.audit_refresh(audit=audit, by=manager_a),
        lambda: services.checklist_save(audit=audit, answers={q.pk: ("na", "")}, by=manager_a),
        lambda: services.action_add(
            audit=audit, description="x", owner=manager_a, due_on=dt.date(2030, 1, 1), by=manager_a
        ),
        lambda: services.action_update(audit=audit, action=action, status="done", by=manager_a),
        lambda: services.audit_sign(audit=audit, by=manager_a),
    ):
        with pytest.raises(services.AuditError) as e:
            attempt()
        assert e.value.code == "audit_signed"
    audit.refresh_from_db()
    assert (
        audit.metrics == frozen and audit.signed_snapshot["actions"][0]["description"] == "Fix it"
    )


def test_open_actions_carry_forward_to_the_next_audit(home_a, manager_a):
    month = previous_month(previous_month(home_a.local_today()))
    first = services.audit_prepare(home=home_a, month=month, by=manager_a)
    open_one = services.action_add(
        audit=first, description="Open", owner=manager_a, due_on=dt.date(2030, 1, 1), by=manager_a
    )
    done = services.action_add(
        audit=first, description="Done", owner=manager_a, due_on=dt.date(2030, 1, 1), by=manager_a
    )
    services.action_update(audit=first, action=done, status="done", by=manager_a)
    second = services.audit_prepare(home=home_a, month=previous_month(home_a.local_today()))
    from audits.selectors import actions_for

    assert list(actions_for(second)) == [open_one]
    services.action_update(audit=second, action=open_one, status="done", by=manager_a)
    open_one.refresh_from_db()
    assert open_one.closed_in == second
    assert open_one in actions_for(second)  # closed in this audit: still shown here


def test_report_is_built_once_and_every_download_is_the_same_file(
    client, audit, manager_a, inspector_a
):
    answer_all(audit, manager_a)
    services.audit_sign(audit=audit, by=manager_a)
    report = AuditReport.objects.get(audit=audit)
    assert report.status == "queued"  # on_commit: the worker builds it
    tasks.audit_report_build.delay(report.pk).get()
    report.refresh_from_db()
    assert report.is_ready and report.file.name.startswith("audits/") and len(report.sha256) == 64
    assert len(report.file.name.split("/")[-1]) >= 32 + len(".pdf")  # unguessable, not the id
    first_name = report.file.name
    tasks.audit_report_build.delay(report.pk).get()  # a retry changes nothing
    report.refresh_from_db()
    assert report.file.name == first_name

    client.force_login(manager_a)
    one = b"".join(client.get(reverse("audit_report", args=[audit.pk])).streaming_content)
    client.force_login(inspector_a)
    two = b"".join(client.get(reverse("audit_report", args=[audit.pk])).streaming_content)
    assert one == two and one.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(one)).pages)
    for title in (
        "Omissions (gaps) per week",
        "Doses not given, by code",
        "Refusals by resident",
        "Training and competency compliance",
        "CD discrepancies raised",  # stock is always part of the audit (R-AUD-1)
        "Fridge excursions",
        "Checklist",
        "Sign-off",
    ):
        assert title in text, title


def test_report_progress_is_polled_until_ready(client, audit, manager_a):
    answer_all(audit, manager_a)
    services.audit_sign(audit=audit, by=manager_a)
    client.force_login(manager_a)
    polling = client.get(reverse("audit_report_status", args=[audit.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in polling and "Building" in polling
    tasks.audit_report_build.delay(AuditReport.objects.get(audit=audit).pk)
    ready = client.get(reverse("audit_report_status", args=[audit.pk])).content.decode()
    assert "hx-trigger" not in ready and "Download the signed report" in ready


def test_audit_report_command_writes_the_stored_report(tmp_path, audit, home_a, manager_a):
    month = f"{audit.month:%Y-%m}"
    draft = tmp_path / "draft.pdf"
    call_command("audit_report", home="Home A", month=month, out=str(draft), stdout=StringIO())
    assert draft.read_bytes().startswith(b"%PDF")
    answer_all(audit, manager_a)
    services.audit_sign(audit=audit, by=manager_a)
    out = tmp_path / "signed.pdf"
    call_command("audit_report", home="Home A", month=month, out=str(out), stdout=StringIO())
    report = AuditReport.objects.get(audit=audit)
    assert report.is_ready
    with report.file.open("rb") as f:
        assert out.read_bytes() == f.read()


def test_audit_report_command_prepares_a_month_not_yet_prepared(tmp_path, home_a):
    month = previous_month(home_a.local_today())
    out = tmp_path / "r.pdf"
    call_command(
        "audit_report", home="Home A", month=f"{month:%Y-%m}", out=str(out), stdout=StringIO()
    )
    assert Audit.objects.filter(home=home_a, month=month).exists()
    assert b"%PDF" in out.read_bytes()[:8]


def test_the_manager_completes_and_signs_through_the_pages(client, audit, manager_a):
    client.force_login(manager_a)
    page = client.get(reverse("audit_detail", args=[audit.pk]))
    assert page.status_code == 200 and "Omissions (gaps)" in page.content.decode()
    assert "CD discrepancies" in page.content.decode()
    assert "Fridge excursions" in page.content.decode()
    data = {f"q{q.pk}": "yes" for q in ChecklistQuestion.objects.all()}
    assert client.post(reverse("audit_checklist", args=[audit.pk]), data).status_code == 302
    bad = client.post(
        reverse("audit_checklist", args=[audit.pk]),
        {f"q{ChecklistQuestion.objects.first().pk}": "maybe"},
    )
    assert bad.status_code == 400
    response = client.post(reverse("audit_sign", args=[audit.pk]), {"confirm": "on"})
    assert response.status_code == 302
    audit.refresh_from_db()
    assert audit.is_signed
    again = client.post(reverse("audit_checklist", args=[audit.pk]), data)
    assert again.status_code == 400 and "locked" in again.content.decode()


def test_metric_records_page_lists_the_gaps(client, audit, manager_a):
    client.force_login(manager_a)
    response = client.get(reverse("audit_metric_records", args=[audit.pk, "gaps"]))
    assert response.status_code == 200
    assert client.get(reverse("audit_metric_records", args=[audit.pk, "nope"])).status_code == 404


def test_prepare_or_open_a_month_from_the_list(client, home_a, manager_a):
    """The audits list's "Prepare / open" button posts YYYY-MM and lands on that audit."""
    client.force_login(manager_a)
    month = previous_month(home_a.local_today())
    response = client.post(reverse("audit_prepare", args=[home_a.pk]), {"month": f"{month:%Y-%m}"})
    audit = Audit.objects.get(home=home_a, month=month)
    assert response.status_code == 302
    assert response["Location"] == reverse("audit_detail", args=[audit.pk])
    again = client.post(reverse("audit_prepare", args=[home_a.pk]), {"month": f"{month:%Y-%m}"})
    assert again["Location"] == response["Location"]
    assert Audit.objects.filter(home=home_a, month=month).count() == 1


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "2026-011", "", "x" * 500, "2026-1\x00"])
def test_bad_month_gives_a_message(client, home_a, manager_a, month):
    client.force_login(manager_a)
    response = client.post(reverse("audit_prepare", args=[home_a.pk]), {"month": month})
    assert response.status_code == 400
    assert not Audit.objects.filter(home=home_a).exists()


def test_bad_month_is_a_400(client, home_a, manager_a):
    client.force_login(manager_a)
    response = client.post(reverse("audit_prepare", args=[home_a.pk]), {"month": "2026-13"})
    assert response.status_code == 400 and "YYYY-MM" in response.content.decode()


def test_outsider_gets_404_and_anonymous_goes_to_login(client, audit, carer_b):
    url = reverse("audit_detail", args=[audit.pk])
    assert client.get(url).status_code == 302
    client.force_login(carer_b)
    assert client.get(url).status_code == 404
