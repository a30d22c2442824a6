"""R-REL-1: free text is bounded in the database with the forms' bounds, so a value written
around the forms (the ORM, a script, the shell) cannot store a megabyte either. Used by each
app's test_text_bounds.py: the checks run over the app's models, so a new TextField without a
named bound (emar.models.text_max_length) fails a test."""

from __future__ import annotations

import datetime as dt
import uuid
from functools import partial

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, models, transaction
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone


def free_text_fields(model) -> list[str]:
    """Fields with no bound of their own: TextFields and CharFields without max_length."""
    return [
        f.name
        for f in model._meta.local_fields
        if isinstance(f, models.TextField)
        or (isinstance(f, models.CharField) and f.max_length is None)
    ]


def bounds(model) -> dict[str, tuple[str, int]]:
    """{field: (constraint name, limit)} of the model's Length checks."""
    found = {}
    for c in model._meta.constraints:
        condition = getattr(c, "condition", None)
        if isinstance(condition, LessThanOrEqual) and isinstance(condition.lhs, Length):
            field = condition.lhs.source_expressions[0].name
            name = c.name % {
                "app_label": model._meta.app_label,
                "class": model.__name__.lower(),
            }
            found[field] = (name, condition.rhs)
    return found


def text_models(label: str) -> list:
    return [
        m
        for m in apps.get_app_config(label).get_models()
        if m._meta.managed and not m._meta.proxy and free_text_fields(m)
    ]


def assert_every_free_text_field_is_bounded(label: str) -> None:
    wrong = []
    with connection.cursor() as cursor:
        for model in text_models(label):
            known = bounds(model)
            in_db = connection.introspection.get_constraints(cursor, model._meta.db_table)
            for field in free_text_fields(model):
                if field not in known:
                    wrong.append(f"{model.__name__}.{field}: no text_max_length() constraint")
                    continue
                name, _limit = known[field]
                if not in_db.get(name, {}).get("check"):
                    wrong.append(f"{model.__name__}.{field}: {name} is not in the database")
    assert wrong == [], "\n".join(wrong)


def _value(field):
    """A plain value for a field of a made-up row (the row only has to reach the checks)."""
    if field.has_default():
        return field.get_default()
    if field.null:
        return None
    if field.choices:
        return field.choices[0][0]
    if isinstance(field, models.ForeignKey):
        return None  # set by id below: foreign keys are checked at commit, never reached
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, models.DateTimeField):
        return timezone.now()
    if isinstance(field, models.DateField):
        later = any(w in field.name for w in ("expire", "review", "until", "end"))
        return timezone.localdate() + dt.timedelta(days=365 if later else 0)
    if isinstance(field, models.TimeField):
        return dt.time(8)
    if isinstance(field, models.DecimalField | models.IntegerField | models.FloatField):
        return 0 if "balance" in field.name or field.name == "change" else 1
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, models.JSONField):
        return {}
    if isinstance(field, models.FileField):
        return "x.pdf"
    return "x"


# Values a made-up row needs to pass a model's other rules (its bound is then what refuses it).
SHAPES = {"medications.HomelyRemedyMovement": {"change": 1, "balance_after": 1}}


def made_up(model, **values):
    """An unsaved row of `model` with every required field filled."""
    row = model()
    ids = iter(range(1, 1000))  # a different id per foreign key: "not of oneself" rules hold
    for field in model._meta.local_fields:
        if field.primary_key:
            continue
        if isinstance(field, models.ForeignKey):
            if getattr(row, field.attname) is None and not field.null:
                setattr(row, field.attname, next(ids))
            continue
        setattr(row, field.attname, _value(field))
    for name, value in {**SHAPES.get(model._meta.label, {}), **values}.items():
        setattr(row, name, value)
    return row


def _refused(write, name: str) -> str | None:
    """None when the database refuses the write naming the constraint, else what happened."""
    try:
        with transaction.atomic():
            write()
    except IntegrityError as e:
        return None if name in str(e) else f"refused by another rule: {e}"
    return "stored"


def assert_too_long_text_is_refused(label: str) -> None:
    """For each model, its first bounded field one character too long: an ORM create of a new
    row, and an ORM update of a stored row where the fixture made one, are refused by the
    database naming the constraint."""
    wrong = []
    for model in text_models(label):
        field = free_text_fields(model)[0]
        name, limit = bounds(model)[field]
        too_long = "x" * (limit + 1)
        problem = _refused(made_up(model, **{field: too_long}).save, name)
        if problem:
            wrong.append(f"{model.__name__}.{field} create: {problem}")
        row = model.objects.order_by("pk").first()
        if row is None:
            continue
        rows = model.objects.filter(pk=row.pk)
        problem = _refused(partial(rows.update, **{field: too_long}), name)
        if problem:
            wrong.append(f"{model.__name__}.{field} update: {problem}")
        row.refresh_from_db()
        assert len(getattr(row, field)) <= limit
    assert wrong == [], "\n".join(wrong)


def app_tests(label: str):
    """The two tests for one app's module: `test_a, test_b = app_tests("residents")`."""

    def test_every_free_text_field_is_bounded_in_the_database(db):
        assert_every_free_text_field_is_bounded(label)

    @pytest.mark.usefixtures("text_rows")
    def test_too_long_text_written_around_the_forms_is_refused(db):
        assert_too_long_text_is_refused(label)

    return (
        test_every_free_text_field_is_bounded_in_the_database,
        test_too_long_text_written_around_the_forms_is_refused,
    )


@pytest.fixture
def text_rows(url_params, persona, home_a, unit_a):
    """A row of every model with free text: the permission-matrix objects at home A, and the
    records they do not make."""
    return url_params
