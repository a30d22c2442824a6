"""Medications services, split by subject; import them from here (`medications.services`)."""

from .homely import *  # noqa: F403
from .imports import *  # noqa: F403
from .mar import *  # noqa: F403
from .prescriptions import *  # noqa: F403
from .prints import *  # noqa: F403
from .stock import *  # noqa: F403
