"""tools/bazel/requirements.lock pins exactly what uv.lock pins, with the same hashes.

`make bazel-lock-check` compares the file with a fresh `uv export`; this test makes the same
promise inside `bazel test`, where uv is not available: every third-party package of uv.lock
appears with its version and every artifact hash, and nothing else does.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

UV_LOCK = Path("uv.lock")
REQUIREMENTS = Path("tools/bazel/requirements.lock")
FIX = "run `make bazel-lock` and commit tools/bazel/requirements.lock"

_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;\\]+)")
_HASH = re.compile(r"--hash=(sha256:[0-9a-f]{64})")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


Pins = dict[str, tuple[str, frozenset[str]]]


def uv_lock_pins(text: str) -> Pins:
    """Third-party packages of uv.lock; workspace members (editable, virtual) build from source."""
    pins: Pins = {}
    for package in tomllib.loads(text)["package"]:
        if "registry" not in package["source"]:
            continue
        artifacts = [package["sdist"]] if "sdist" in package else []
        artifacts += package.get("wheels", [])
        hashes = frozenset(artifact["hash"] for artifact in artifacts)
        pins[_normalize(package["name"])] = (package["version"], hashes)
    return pins


def requirements_pins(text: str) -> Pins:
    """The pins of a `--hash`-style requirements file, continuation lines joined."""
    pins: Pins = {}
    joined = re.sub(r"\\\n", " ", text)
    for line in joined.splitlines():
        match = _REQUIREMENT.match(line)
        if match is None:
            continue
        name = _normalize(match.group(1))
        if name in pins:
            raise ValueError(f"{REQUIREMENTS}: {name} is pinned twice")
        pins[name] = (match.group(2), frozenset(_HASH.findall(line)))
    return pins


@pytest.fixture(scope="module")
def pins() -> tuple[Pins, Pins]:
    return uv_lock_pins(UV_LOCK.read_text()), requirements_pins(REQUIREMENTS.read_text())


def test_the_same_packages_are_pinned(pins: tuple[Pins, Pins]) -> None:
    locked, exported = pins
    missing = sorted(locked.keys() - exported.keys())
    extra = sorted(exported.keys() - locked.keys())
    assert not missing, f"{REQUIREMENTS} lacks {missing}, which uv.lock pins: {FIX}"
    assert not extra, f"{REQUIREMENTS} pins {extra}, which uv.lock does not: {FIX}"


def test_versions_and_hashes_agree(pins: tuple[Pins, Pins]) -> None:
    locked, exported = pins
    for name in sorted(locked.keys() & exported.keys()):
        assert exported[name][0] == locked[name][0], (
            f"{name}: {REQUIREMENTS} pins {exported[name][0]}, uv.lock {locked[name][0]}: {FIX}"
        )
        assert exported[name][1] == locked[name][1], f"{name}: artifact hashes differ: {FIX}"


def test_every_pin_has_a_hash_and_setuptools_is_there(pins: tuple[Pins, Pins]) -> None:
    _, exported = pins
    assert all(hashes for _, hashes in exported.values())
    # grpcio-tools imports setuptools' pkg_resources at generation time.
    assert "setuptools" in exported


def test_a_changed_version_or_hash_is_seen() -> None:
    """The parser reads what it should: a one-character change of the lock is a difference."""
    text = REQUIREMENTS.read_text()
    original = requirements_pins(text)
    name, (version, hashes) = sorted(original.items())[0]
    some_hash = sorted(hashes)[0]
    flipped = some_hash[:-1] + ("1" if some_hash.endswith("0") else "0")
    tampered = requirements_pins(text.replace(some_hash, flipped, 1))
    assert tampered[name][1] != hashes
    assert tampered[name][0] == version
