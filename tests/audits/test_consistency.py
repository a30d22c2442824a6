"""A checklist "yes" that the month's figures contradict is flagged on the audit page and in the
PDF, and refuses signing (R-AUD-1, R-AUD-2, R-AUD-4; audits.consistency)."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from audits import consistency, selectors, services, tasks
from audits.models import Audit, AuditReport, ChecklistQuestion, previous_month
from tests.audits.conftest import month_of_records
from tests.medications.factories import line
from tests.residents.factories import resident


def answer(audit, by, **special):
    """Every question "yes" with no comment, except `special` {code: (answer, comment)}."""
    answers = {
        q.pk: special.get(q.code.replace("-", "_"), ("yes", ""))
        for q in ChecklistQuestion.objects.filter(active=True)
    }
    services.checklist_save(audit=audit, answers=answers, by=by)


@pytest.fixture
def month(home_a):
    return previous_month(home_a.local_today())


@pytest.fixture
def audit_with_gaps(unit_a, senior_a, senior2_a, manager_a, month):
    month_of_records(unit_a, senior_a, senior2_a, residents=1, month=month)
    audit = services.audit_prepare(home=unit_a.home, month=month, by=manager_a)
    assert audit.metrics["doses"]["gaps"] > 0
    return audit


def test_no_unexplained_gaps_yes_beside_gaps_cannot_be_signed(audit_with_gaps, manager_a):
    audit = audit_with_gaps
    gaps = audit.metrics["doses"]["gaps"]
    answer(audit, manager_a)
    with pytest.raises(services.AuditError) as e:
        services.audit_sign(audit=audit, by=manager_a)
    assert e.value.code == "checklist_contradicted"
    assert f"gaps (omissions) on the MAR: {gaps}" in e.value.message
    assert 'Answer "No"' in e.value.message
    audit.refresh_from_db()
    assert not audit.is_signed
    # An explanation on the "yes" does not make it true: still refused.
    answer(audit, manager_a, records_complete=("yes", "All explained at handover"))
    with pytest.raises(services.AuditError):
        services.audit_sign(audit=audit, by=manager_a)
    answer(audit, manager_a, records_complete=("no", f"{gaps} gaps; each reviewed with staff"))
    assert services.audit_sign(audit=audit, by=manager_a).is_signed


def test_a_figure_that_can_be_explained_needs_the_managers_explanation(
    home_a, unit_a, senior_a, manager_a, month
):
    person = resident(unit_a, senior_a)
    line(person, senior_a)  # entered, awaiting its second check
    audit = services.audit_prepare(home=home_a, month=month, by=manager_a)
    answer(audit, manager_a)
    with pytest.raises(services.AuditError) as e:
        services.audit_sign(audit=audit, by=manager_a)
    assert e.value.code == "checklist_contradicted"
    assert "prescription lines awaiting a second check: 1" in e.value.message
    answer(audit, manager_a, records_transcribing=("yes", "Entered today; checked tomorrow"))
    signed = services.audit_sign(audit=audit, by=manager_a)
    row = next(
        r for r in signed.signed_snapshot["checklist"] if r["code"] == "records-transcribing"
    )
    assert row["flags"] == [
        "Figures: prescription lines awaiting a second check: 1. "
        "Explained: Entered today; checked tomorrow"
    ]
    tasks.audit_report_build.delay(AuditReport.objects.get(audit=signed).pk).get()
    report = AuditReport.objects.get(audit=signed)
    with report.file.open("rb") as f:
        text = " ".join(
            " ".join(page.extract_text() for page in PdfReader(io.BytesIO(f.read())).pages).split()
        )
    assert "Checked against the figures" in text and "Entered today; checked tomorrow" in text


def test_the_audit_page_flags_a_contradicted_answer_before_signing(
    client, audit_with_gaps, manager_a
):
    answer(audit_with_gaps, manager_a)
    client.force_login(manager_a)
    page = client.get(reverse("audit_detail", args=[audit_with_gaps.pk])).content.decode()
    assert "Contradicted by the figures." in page and "gaps (omissions) on the MAR:" in page
    response = client.post(reverse("audit_sign", args=[audit_with_gaps.pk]), {"confirm": "on"})
    assert response.status_code == 400
    assert "contradicts this month" in response.content.decode()
    assert not Audit.objects.get(pk=audit_with_gaps.pk).is_signed


def test_no_and_na_answers_are_never_flagged():
    metrics = {"doses": {"gaps": 5}, "cd": {"without_witness": 2}}
    assert (
        consistency.contradictions(
            metrics, {"records-complete": ("no", "5 gaps"), "cd-witness": ("na", "")}
        )
        == []
    )
    found = consistency.contradictions(metrics, {"cd-witness": ("yes", "")})
    assert [(c.question, c.figure, c.blocks) for c in found] == [
        ("cd-witness", "CD doses given without a witness: 2", True)
    ]


def test_every_rule_names_a_shipped_question_and_a_metric_the_audit_computes(audit_with_gaps):
    codes = set(ChecklistQuestion.objects.values_list("code", flat=True))
    for rule in consistency.RULES:
        assert rule.question in codes, rule
        value = audit_with_gaps.metrics
        for key in rule.metric:
            value = value[key]
        assert isinstance(value, int), rule


def test_the_demo_audit_does_not_contradict_its_own_figures(demo):
    home, month = demo
    audit = Audit.objects.get(home=home, month=month)
    assert audit.is_signed
    assert [c for c in selectors.checklist_contradictions(audit) if c.blocks] == []
    complete = next(
        r for r in audit.signed_snapshot["checklist"] if r["code"] == "records-complete"
    )
    if audit.metrics["doses"]["gaps"]:
        assert complete["answer"] == "no"
        assert f"on the MAR: {audit.metrics['doses']['gaps']}." in complete["comment"]
