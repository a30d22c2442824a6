"""URLs of objects by their integer ids, from a pattern reversed once (SPEC §11: a whole-day
round draws about 900 links and form actions; `reverse` costs about 0.1 ms each)."""

from __future__ import annotations

from functools import lru_cache

from django.urls import get_script_prefix, reverse

_MARK = "7919073491"  # an id no table reaches; it stands for each argument in the pattern


@lru_cache(maxsize=512)
def _parts(name: str, count: int, prefix: str) -> tuple[str, ...]:
    url = reverse(name, args=[_MARK] * count)
    parts = tuple(url.split(_MARK))
    if len(parts) != count + 1:  # e.g. an argument that is not a plain path segment
        raise ValueError(f"{name} cannot be drawn by id")
    return parts


def url_by_id(name: str, *ids) -> str:
    """The same string as `reverse(name, args=ids)` for integer ids; a non-integer id raises
    ValueError (as reverse would raise NoReverseMatch), never a wrong URL."""
    numbers = [str(int(i)) for i in ids]
    if any(str(i) != n for i, n in zip(ids, numbers, strict=True)):
        raise ValueError(f"{name}: ids must be integers, not {ids!r}")
    parts = _parts(name, len(numbers), get_script_prefix())
    out = [parts[0]]
    for number, part in zip(numbers, parts[1:], strict=True):
        out += [number, part]
    return "".join(out)
