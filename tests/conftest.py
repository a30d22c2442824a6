"""Shared fixtures: the personas of STYLE.md and the switches for PostgreSQL/Redis/Chromium.

Personas: `carer_a`, `senior_a`, `manager_a`, `inspector_a` (access expiring in 30 days),
`admin_a` (provider admin of home A's provider) at home A; `carer_b` at home B, the outsider.
"""

from __future__ import annotations

import os

import pytest
from django.conf import settings

from emar.celery import app as celery_app
from emar.models import Role
from tests.factories import HomeFactory, ProviderFactory, UnitFactory, UserFactory, staff

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def need(condition: bool, reason: str) -> None:
    """Skip a test whose service is missing on a plain machine; under CI, fail instead
    (R-RUN-2: nothing may be skipped in CI)."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI must provide this: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _eager_celery():
    """Tasks run in-process unless a test starts a real worker (see tests/emar/test_worker.py)."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _test_settings(tmp_path, settings):
    from django.core.cache import cache

    cache.clear()
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "audit-checkpoints"
    # Two-factor sign-in is tested in tests/emar/test_two_factor.py; elsewhere force_login is
    # the signed-in state.
    settings.TWO_FACTOR_REQUIRED = False
    # Hashing cost is a production concern; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def postgres():
    need(settings.IS_POSTGRES, "needs PostgreSQL: set DATABASE_URL=postgres://...")


@pytest.fixture
def redis_url():
    need(bool(settings.REDIS_URL), "needs Redis: set REDIS_URL=redis://...")
    return settings.REDIS_URL


@pytest.fixture
def provider_a(db):
    return ProviderFactory(name="Provider A")


@pytest.fixture
def home_a(provider_a):
    return HomeFactory(provider=provider_a, name="Home A")


@pytest.fixture
def unit_a(home_a):
    return UnitFactory(home=home_a, name="Oak")


@pytest.fixture
def home_b(db):
    return HomeFactory(provider=ProviderFactory(name="Provider B"), name="Home B")


@pytest.fixture
def unit_b(home_b):
    return UnitFactory(home=home_b, name="Riverside")


@pytest.fixture
def carer_a(home_a):
    return staff(home_a, Role.CARER, username="carer_a", first_name="Carla", last_name="Adams")


@pytest.fixture
def senior_a(home_a):
    return staff(home_a, Role.SENIOR, username="senior_a", first_name="Sam", last_name="Ahmed")


@pytest.fixture
def senior2_a(home_a):
    return staff(home_a, Role.SENIOR, username="senior2_a", first_name="Sue", last_name="Ali")


@pytest.fixture
def manager_a(home_a):
    return staff(home_a, Role.MANAGER, username="manager_a", first_name="Mia", last_name="Allen")


@pytest.fixture
def inspector_a(home_a):
    return staff(home_a, Role.INSPECTOR, username="inspector_a")


@pytest.fixture
def admin_a(provider_a, home_a):
    return UserFactory(username="admin_a", admin_of=provider_a)


@pytest.fixture
def carer_b(home_b):
    return staff(home_b, Role.CARER, username="carer_b")


@pytest.fixture
def persona(request, carer_a, senior_a, manager_a, inspector_a, admin_a, carer_b):
    """Look a persona up by role name: carer, senior, manager, inspector, admin, outsider."""
    return {
        "carer": carer_a,
        "senior": senior_a,
        "manager": manager_a,
        "inspector": inspector_a,
        "admin": admin_a,
        "outsider": carer_b,
    }


def pytest_collection_modifyitems(items):
    """Transactional tests flush the database, which would also remove the reference data the
    migrations load (courses, the medicines catalogue): restore it after each such test.
    Tests on the shared demo data run last, so the demo is seeded once (see `demo_db`)."""
    items.sort(key=lambda item: "demo_db" in getattr(item, "fixturenames", ()))
    for item in items:
        marker = item.get_closest_marker("django_db")
        if (
            marker
            and marker.kwargs.get("transaction")
            and "serialized_rollback" not in marker.kwargs
        ):
            item.add_marker(
                pytest.mark.django_db(**marker.kwargs, serialized_rollback=True), append=False
            )


def isolated_celery_app(broker_url: str, backend: str, options: dict | None = None):
    """A Celery app configured like the project's, on its own queue, for tests that start a
    real worker. The queue is unique so that parallel test processes sharing one Redis never
    take each other's tasks (each process has its own test database)."""
    import uuid

    from celery import Celery

    app = Celery("emar-test", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    queue = f"emar-test-{uuid.uuid4().hex[:12]}"
    # The project's queues get the same unique suffix ("reports" -> "<queue>-reports").
    routes = {
        name: {**route, "queue": f"{queue}-{route['queue']}"}
        for name, route in settings.CELERY_TASK_ROUTES.items()
    }
    app.conf.update(
        broker_url=broker_url,
        result_backend=backend,
        broker_transport_options=options or {},
        task_always_eager=False,
        worker_hijack_root_logger=False,
        task_default_queue=queue,
        task_routes=routes,
        worker_direct=False,
    )
    app.autodiscover_tasks(["emar", "medications", "audits"], force=True)
    return app


def embedded_celery_app(tmp_path):
    """`isolated_celery_app` on kombu's filesystem transport under `tmp_path` (as `make run`)."""
    for sub in ("queue", "processed", "results", "control"):
        (tmp_path / sub).mkdir(exist_ok=True)
    # Results in memory: the worker runs in a thread of this process, and the file backend can
    # be read half-written. The product never reads task results.
    return isolated_celery_app(
        "filesystem://",
        "cache+memory://",
        {
            "data_folder_in": str(tmp_path / "queue"),
            "data_folder_out": str(tmp_path / "queue"),
            "processed_folder": str(tmp_path / "processed"),
            "control_folder": str(tmp_path / "control"),
            "store_processed": False,
        },
    )


# --- The demo data set, seeded once per session (R-RUN-4) -----------------------------------


class _SharedDemo:
    """seed_demo's data, written once inside an outer transaction that stays open while demo
    tests run. Each demo test's own transaction (pytest-django's `db`) nests in it as a
    savepoint, so whatever a test changes rolls back and the next test sees the seed as it was.
    Before any other test runs the outer transaction is rolled back, so no other test sees the
    demo; demo tests are run last (below) so that happens once."""

    def __init__(self) -> None:
        self.atomic = None
        self.blocker = None
        self.files = None

    @property
    def is_open(self) -> bool:
        return self.atomic is not None

    def open(self, blocker, files) -> None:
        from io import StringIO

        from django.core.management import call_command
        from django.db import transaction

        if self.is_open:
            return
        self.blocker, self.files = blocker, files
        with blocker.unblock():
            if transaction.get_connection().in_atomic_block:
                raise RuntimeError("list demo_db before fixtures that use the database")
            self.atomic = transaction.atomic()
            self.atomic.__enter__()
            try:
                _reference_data_restore()
                call_command("seed_demo", stdout=StringIO())
            except BaseException:
                self.close()
                raise

    def close(self) -> None:
        from django.db import transaction

        if not self.is_open:
            return
        atomic, self.atomic = self.atomic, None
        with self.blocker.unblock():
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


_DEMO = _SharedDemo()


def _reference_data_restore() -> None:
    """The rows the migrations load (medicines catalogue, checklist questions, training
    courses), put back if a transactional test flushed them: demo tests run last, after those
    (pytest-django orders transactional tests after the others)."""
    import importlib

    from django.apps import apps

    from medications.catalogue import load_starter

    load_starter(apps.get_model("medications", "Medicine"))
    importlib.import_module("audits.migrations.0002_default_checklist").load(apps, None)
    importlib.import_module("training.migrations.0002_default_courses").add_courses(apps, None)


@pytest.fixture(scope="session")
def _demo_files(django_db_setup, tmp_path_factory):
    """Files the demo writes (signed audit reports, certificates) live as long as the seed."""
    yield tmp_path_factory.mktemp("demo-files")
    _DEMO.close()


@pytest.fixture
def demo_db(request, django_db_blocker, _demo_files, settings):
    """The whole demo data set (both demo homes, six weeks of MAR, stock, training, audits),
    seeded once per session; changes a test makes roll back after it. Returns the Demo Care
    Home."""
    settings.MEDIA_ROOT = _demo_files / "media"
    settings.AUDIT_CHECKPOINT_DIR = _demo_files / "audit-checkpoints"
    _DEMO.open(django_db_blocker, _demo_files)
    request.getfixturevalue("db")
    from emar.models import CareHome

    return CareHome.objects.get(name="Demo Care Home")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """A test that did not ask for the demo never sees it (closed before any fixture)."""
    if _DEMO.is_open and "demo_db" not in getattr(item, "fixturenames", ()):
        _DEMO.close()
