"""R-REL-2: the documented backup and restore, run for real against PostgreSQL."""

import os
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from emar.services import audit_append

ROOT = Path(__file__).resolve().parents[2]


def _url(db: dict, name: str) -> str:
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{name}"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_backup_then_restore_gives_the_same_records(postgres, home_a, manager_a, tmp_path):
    for n in range(5):
        audit_append(home=home_a, actor=manager_a, action="test.write", after={"n": n})
    db = settings.DATABASES["default"]
    source = _url(db, connection.settings_dict["NAME"])
    target_name = f"emar_restore_{uuid.uuid4().hex[:8]}"
    admin_url = _url(db, "postgres")
    env = {
        **os.environ,
        "DATABASE_URL": source,
        "MEDIA_ROOT": str(tmp_path / "media"),
        "AUDIT_CHECKPOINT_DIR": str(tmp_path / "audit-checkpoints"),
    }
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "photo.jpg").write_bytes(b"\xff\xd8\xff photo")
    dump = subprocess.run(
        ["bin/backup", str(tmp_path / "out")],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{target_name}"')
    try:
        media_tar = next((tmp_path / "out").glob("emar-media-*.tar.gz"))
        restored_media = tmp_path / "restored-media"
        result = subprocess.run(
            ["bin/restore", dump, str(media_tar)],
            cwd=ROOT,
            env={**env, "DATABASE_URL": _url(db, target_name), "MEDIA_ROOT": str(restored_media)},
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
        assert "Audit trail intact" in result.stdout
        assert (restored_media / "photo.jpg").read_bytes() == b"\xff\xd8\xff photo"
        with psycopg.connect(_url(db, target_name)) as restored:
            count = restored.execute("SELECT count(*) FROM emar_auditevent").fetchone()[0]
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM emar_auditevent")
            assert count == cursor.fetchone()[0] >= 5
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{target_name}" WITH (FORCE)')
