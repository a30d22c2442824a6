"""R-RUN-1: the lock files pin exactly what pyproject.toml asks for, with hashes.

`make lock` regenerates requirements.lock (runtime, used by the Dockerfile) and
requirements-dev.lock (runtime and dev tools, used by `make install` and CI). This test fails
when pyproject.toml gains, loses or narrows a dependency and the locks were not regenerated.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RUNTIME = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
DEV = [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def _lock(name: str) -> tuple[dict[str, str], set[str], str]:
    """(pins by canonical name, names pyproject.toml asked for directly, the raw text)."""
    text = (ROOT / name).read_text()
    pins: dict[str, str] = {}
    direct: set[str] = set()
    current = None
    for line in text.splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match[1])
            assert current not in pins, f"{name}: {current} pinned twice"
            pins[current] = match[2]
        elif current and re.search(r"#\s+(via\s+)?emar \(pyproject\.toml\)", line):
            direct.add(current)
    return pins, direct, text


@pytest.mark.parametrize(
    ("lock", "wanted"),
    [("requirements.lock", RUNTIME), ("requirements-dev.lock", RUNTIME + DEV)],
)
def test_lock_pins_every_dependency_within_its_range(lock, wanted):
    pins, direct, _ = _lock(lock)
    wrong = []
    for req in wanted:
        name = canonicalize_name(req.name)
        if name not in pins:
            wrong.append(f"{name}: in pyproject.toml, not in {lock}")
        elif not req.specifier.contains(pins[name], prereleases=True):
            wrong.append(f"{name}=={pins[name]} does not satisfy {req.specifier}")
    stale = direct - {canonicalize_name(r.name) for r in wanted}
    assert wrong == [], "run `make lock`: " + "; ".join(wrong)
    assert stale == set(), f"run `make lock`: {lock} still asks for {sorted(stale)}"


def test_every_pin_carries_hashes():
    for lock in ("requirements.lock", "requirements-dev.lock"):
        _, _, text = _lock(lock)
        for block in re.split(r"\n(?=[A-Za-z0-9])", text.split("\n\n", 1)[-1]):
            if PIN.match(block):
                assert "--hash=sha256:" in block, f"{lock}: no hash for {block.split()[0]}"


def test_runtime_and_dev_locks_agree_on_shared_pins():
    runtime, _, _ = _lock("requirements.lock")
    dev, _, _ = _lock("requirements-dev.lock")
    differ = {n: (v, dev.get(n)) for n, v in runtime.items() if dev.get(n) != v}
    assert differ == {}, "run `make lock`: the two locks pin different versions"


def test_install_and_docker_use_the_locks():
    makefile = (ROOT / "Makefile").read_text()
    assert "LOCK := requirements-dev.lock" in makefile
    assert re.search(r"^\$\(STAMP\): pyproject.toml \$\(LOCK\)$", makefile, re.M)
    assert "--require-hashes -r $(LOCK)" in makefile
    assert "--no-deps -e ." in makefile
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --require-hashes -r requirements.lock" in dockerfile
    assert "pip install --no-deps ." in dockerfile
