"""R-REL-1: free text of the training models is bounded in the database
(see tests/text_bounds.py)."""

from tests.emar.test_permission_matrix import url_params  # noqa: F401
from tests.text_bounds import app_tests, text_rows  # noqa: F401

test_every_free_text_field_is_bounded, test_too_long_text_is_refused = app_tests("training")
