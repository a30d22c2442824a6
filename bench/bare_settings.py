"""The product's settings with one extra URL, /bench/bare: a Django view that does nothing
(no database, no template), served through the same middleware by the same gunicorn, so a
benchmark run measures the framework's floor beside the real endpoint (bench/api.py)."""

from emar.settings import *  # noqa: F403

ROOT_URLCONF = "bench.bare_urls"
