"""R-ALR-3: training and competency expiring within 30 days notify the person and managers,
once."""

import datetime as dt

from django.utils import timezone

from emar.models import Notification
from tests.training.factories import AssessmentFactory, TrainingRecordFactory, course
from training.models import Course, MedicineCategory
from training.services import expiry_alerts_send
from training.tasks import training_expiry_alerts


def test_expiring_training_notifies_the_person_and_the_manager_once(
    home_a, carer_a, manager_a, senior_a
):
    today = timezone.localdate()
    safe = course(Course.SAFE_HANDLING)
    TrainingRecordFactory(
        person=carer_a,
        home=home_a,
        course=safe,
        completed_on=today - dt.timedelta(days=300),
        expires_on=today + dt.timedelta(days=10),
    )
    AssessmentFactory(
        person=senior_a,
        home=home_a,
        category=MedicineCategory.ORAL,
        assessed_on=today - dt.timedelta(days=100),
        expires_on=today + dt.timedelta(days=200),
    )
    assert expiry_alerts_send(home=home_a) == 2
    assert training_expiry_alerts.delay().get() == 0  # the daily job again: nothing new
    notes = Notification.objects.filter(kind="training_expiring")
    assert {n.recipient for n in notes} == {carer_a, manager_a}
    assert "expires on" in notes.first().title


def test_expired_or_distant_expiry_does_not_alert(home_a, carer_a, manager_a):
    today = timezone.localdate()
    for expires in (today - dt.timedelta(days=1), today + dt.timedelta(days=40)):
        TrainingRecordFactory(
            person=carer_a,
            home=home_a,
            course=course(Course.SAFE_HANDLING),
            completed_on=today - dt.timedelta(days=300),
            expires_on=expires,
        )
    assert expiry_alerts_send(home=home_a) == 0
