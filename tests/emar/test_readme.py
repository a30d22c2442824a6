from io import StringIO
from pathlib import Path

from django.core.management import call_command

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_permission_matrix_is_the_one_in_the_code():
    out = StringIO()
    call_command("permission_matrix", stdout=out)
    assert out.getvalue().strip() in README.read_text()
