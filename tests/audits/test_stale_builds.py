"""A build whose worker died is noticed, queued again once and then marked failed; the manager
can retry it from the page (R-AUD-4, R-INS-2, R-ALR-5)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from audits import services, tasks
from audits.models import AuditReport, EvidencePack, previous_month
from emar import jobs
from emar.models import AuditEvent
from tests.audits.test_audit import answer_all


@pytest.fixture
def pack(home_a, manager_a):
    today = home_a.local_today()
    return services.evidence_pack_request(
        home=home_a, start=today - dt.timedelta(days=3), end=today, by=manager_a
    )


def stall(build, minutes: int = 21, progress: int = 50) -> None:
    """The worker was killed mid-build `minutes` ago."""
    type(build).objects.filter(pk=build.pk).update(
        status="building",
        progress=progress,
        updated_at=timezone.now() - dt.timedelta(minutes=minutes),
    )


def test_a_stalled_pack_is_queued_again_once_then_marked_failed(
    pack, django_capture_on_commit_callbacks
):
    stall(pack)
    with django_capture_on_commit_callbacks() as queued:
        assert jobs.builds_stale_sweep() == {"retried": 1, "failed": 0}
    assert len(queued) == 1  # the build job, on commit
    pack.refresh_from_db()
    assert (pack.status, pack.progress, pack.attempt, pack.auto_retries) == ("queued", 0, 2, 1)

    stall(pack)  # the retry stalled too
    with django_capture_on_commit_callbacks() as queued:
        assert jobs.builds_stale_sweep() == {"retried": 0, "failed": 1}
    assert queued == []
    pack.refresh_from_db()
    assert pack.status == "failed" and "no progress for 10 minutes" in pack.error
    assert pack.attempt == 3  # a late job of attempt 2 will do nothing
    assert jobs.builds_stale_sweep() == {"retried": 0, "failed": 0}


def test_the_database_allows_one_automatic_retry_only(pack):
    with pytest.raises(IntegrityError), transaction.atomic():
        EvidencePack.objects.filter(pk=pack.pk).update(auto_retries=2)


def test_a_build_making_progress_is_left_alone(pack, settings):
    stall(pack, minutes=9)
    assert settings.BUILD_STALE_MINUTES == 10
    assert jobs.builds_stale_sweep() == {"retried": 0, "failed": 0}
    settings.BUILD_STALE_MINUTES = 5
    assert jobs.builds_stale_sweep() == {"retried": 1, "failed": 0}


def test_the_sweep_rebuilds_the_stalled_pack(pack, django_capture_on_commit_callbacks):
    stall(pack)
    with django_capture_on_commit_callbacks(execute=True):
        tasks_result = jobs.builds_stale_sweep()
    assert tasks_result["retried"] == 1
    pack.refresh_from_db()
    assert pack.is_ready and pack.progress == 100 and pack.attempt == 2


def test_a_job_of_an_earlier_attempt_does_nothing(pack):
    EvidencePack.objects.filter(pk=pack.pk).update(attempt=2)
    assert tasks.evidence_pack_build.delay(pack.pk, attempt=1).get() == "queued"
    pack.refresh_from_db()
    assert pack.status == "queued" and not pack.file
    assert tasks.evidence_pack_build.delay(pack.pk, attempt=2).get() == "ready"


def test_progress_is_a_sign_of_life(pack):
    before = timezone.now() - dt.timedelta(minutes=30)
    EvidencePack.objects.filter(pk=pack.pk).update(status="building", updated_at=before)
    jobs.build_progress(pack, 40, "MAR: Edith Clarke")
    pack.refresh_from_db()
    assert pack.progress == 40 and pack.updated_at > before and not pack.is_stale


def test_the_manager_retries_a_stalled_pack_from_the_page(
    client, pack, manager_a, django_capture_on_commit_callbacks
):
    stall(pack)
    client.force_login(manager_a)
    status = client.get(reverse("evidence_pack_status", args=[pack.pk])).content.decode()
    assert "the build may have stopped" in status and "Try again now" in status
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(reverse("evidence_pack_retry", args=[pack.pk]))
    assert response.status_code == 302 and len(queued) == 1
    pack.refresh_from_db()
    assert pack.status == "queued" and pack.attempt == 2 and pack.auto_retries == 0
    assert AuditEvent.objects.filter(action="build.retried", object_id=str(pack.pk)).exists()


def test_a_build_still_making_progress_cannot_be_retried(client, pack, manager_a):
    stall(pack, minutes=1)
    client.force_login(manager_a)
    response = client.post(reverse("evidence_pack_retry", args=[pack.pk]))
    assert response.status_code == 400 and "still being built" in response.content.decode()
    with pytest.raises(jobs.BuildError) as e:
        jobs.build_retry(build=pack, by=manager_a)
    assert e.value.code == "build_in_progress"


def test_only_the_manager_may_retry_and_outsiders_get_404(
    client, pack, inspector_a, senior_a, carer_b
):
    EvidencePack.objects.filter(pk=pack.pk).update(status="failed", error="boom")
    for person, expected in ((inspector_a, 403), (senior_a, 403), (carer_b, 404)):
        client.force_login(person)
        assert client.post(reverse("evidence_pack_retry", args=[pack.pk])).status_code == expected
    pack.refresh_from_db()
    assert pack.status == "failed" and pack.attempt == 1


def test_a_stalled_audit_report_is_retried_like_a_pack(
    client, home_a, manager_a, django_capture_on_commit_callbacks
):
    audit = services.audit_prepare(
        home=home_a, month=previous_month(home_a.local_today()), by=manager_a
    )
    answer_all(audit, manager_a)
    services.audit_sign(audit=audit, by=manager_a)
    report = AuditReport.objects.get(audit=audit)
    stall(report, progress=20)
    client.force_login(manager_a)
    page = client.get(reverse("audit_report_status", args=[audit.pk])).content.decode()
    assert "the build may have stopped" in page
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.builds_stale_sweep()["retried"] == 1
    report.refresh_from_db()
    assert report.is_ready and report.attempt == 2 and report.auto_retries == 1

    # A failed report: the manager's "Try again" queues it again.
    AuditReport.objects.filter(pk=report.pk).update(status="failed", sha256="", error="boom")
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(reverse("audit_report_retry", args=[audit.pk]))
    assert response.status_code == 302 and len(queued) == 1
    report.refresh_from_db()
    assert report.status == "queued" and report.attempt == 3
