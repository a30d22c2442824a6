"""Medications services, split by subject; import them from here (`medications.services`).

Each module's `__all__` lists its public services (`<entity>_<verb>`) and the types they take
or raise; nothing else (models, `Decimal`, `transaction`) is re-exported. Reads live in
`medications.selectors`."""

from .away import *  # noqa: F403
from .bodymap import *  # noqa: F403
from .documents import *  # noqa: F403
from .downtime import *  # noqa: F403
from .homely import *  # noqa: F403
from .imports import *  # noqa: F403
from .mar import *  # noqa: F403
from .offline import *  # noqa: F403
from .opened import *  # noqa: F403
from .orders import *  # noqa: F403
from .prescriptions import *  # noqa: F403
from .prints import *  # noqa: F403
from .scanning import *  # noqa: F403
from .stock import *  # noqa: F403
