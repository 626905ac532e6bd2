"""mmdebstrap, run twice with the builder's own command line, writes byte-identical rootfs tars.

The cached base hides this from the image test (both builds reuse one base), so it is shown
here on its own: two fresh runs, back to back, so the Debian mirror cannot change between
them. Re-encoding and compression are pure functions of that tar (tests in test_layers.py).
About a minute: two mmdebstrap runs of ~30 s each.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from pathlib import Path

import pytest

from stigmer_oci.base import mmdebstrap_argv
from stigmer_oci.spec import DEFAULT_EPOCH, base_spec

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _debootstrap(output: Path) -> str:
    spec = base_spec(suite="bookworm", mirror="http://deb.debian.org/debian", epoch=DEFAULT_EPOCH)
    started = time.monotonic()
    result = subprocess.run(
        mmdebstrap_argv(spec, output),
        capture_output=True,
        text=True,
        env={**os.environ, "SOURCE_DATE_EPOCH": str(spec.epoch)},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    print(f"mmdebstrap took {time.monotonic() - started:.1f} s")
    return _sha256(output)


def test_two_mmdebstrap_runs_give_the_same_rootfs_tar(tmp_path: Path) -> None:
    first = _debootstrap(tmp_path / "first.tar")
    second = _debootstrap(tmp_path / "second.tar")

    assert first == second
