"""Reads memoised for one request (SPEC §11): what the training gate reads about a
person is read once per request, however many doses, rows or checks ask for it.

Outside a request (a Celery task, a management command, a test calling a service) nothing is
memoised: every call reads the database. A write to what a memo holds forgets it (the training
app's signals call `forget`), so a request that records an assessment and then checks the gate
reads afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

_store: ContextVar[dict | None] = ContextVar("emar_request_cache", default=None)


def memo(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()` once per request for `key`; every call outside a request."""
    store = _store.get()
    if store is None:
        return compute()
    if key not in store:
        store[key] = compute()
    return store[key]


def forget(kind: str) -> None:
    """Drop every memo whose key starts with `kind` (after a write to what it read)."""
    store = _store.get()
    if store:
        for key in [k for k in store if isinstance(k, tuple) and k and k[0] == kind]:
            del store[key]


class RequestCacheMiddleware:
    """Opens the memo store for one request and closes it after."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        token = _store.set({})
        try:
            return self.get_response(request)
        finally:
            _store.reset(token)
