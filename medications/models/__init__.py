"""Medications models, split by subject (STYLE.md: a package past ~500 lines, same import path).

prescriptions: catalogue, prescription lines, schedules, PRN protocols, covert and
self-administration plans (R-RX-*). mar: scheduled doses and administration records (R-MAR-*).
homely: homely remedies, their authorisations and doses (R-MAR-11). stock: stock ledgers, the CD
register, storage and temperatures (R-STK-*, R-CD-*). opened: opened packs and their in-use
expiry (R-STK-7). prints: background MAR prints (R-MAR-12).
bodymap: the body map sites of topical lines and of their applications (R-MAR-17).
"""

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
from .prescriptions import validate_not_a_container  # noqa: F401  (migrations name it)
from .prints import *  # noqa: F403
from .scanning import *  # noqa: F403
from .stock import *  # noqa: F403
