"""Precompile a layer's Python files with the image's own interpreter.

Bytecode must come from the exact Python the image runs (3.11.2 from Debian, not the build
host's 3.11.x), so compileall runs inside the base rootfs through bubblewrap: a chroot
that needs no root when user namespaces are allowed, with no network. `unchecked-hash`
pycs carry a source hash instead of an mtime and are never re-validated at start-up, which
halves the start time. The pyc bytes are deterministic only in one process compiling
files in a fixed order with a fixed hash seed: marshal's back-references depend on
reference counts and set constants on string hashes, hence `-j 1` and PYTHONHASHSEED=0.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from stigmer_oci.python_layers import SITE_PACKAGES

# /mnt exists in every Debian base, so bubblewrap needs no mount point in the read-only root.
_MOUNT = "/mnt"


class CompileError(RuntimeError):
    """bubblewrap is missing or compileall failed inside the base."""


def compile_site_packages(rootfs: Path, site: Path) -> None:
    """Write __pycache__/*.pyc next to every .py under site, as the image's Python would."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise CompileError(
            "bwrap (bubblewrap) is required to run the image's Python: apt-get install bubblewrap"
        )
    argv = [bwrap, "--ro-bind", str(rootfs), "/", "--bind", str(site), _MOUNT]
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    argv += ["--unshare-all", "--die-with-parent", "--clearenv"]
    argv += ["--setenv", "PATH", "/usr/bin:/bin", "--setenv", "PYTHONHASHSEED", "0"]
    argv += ["/usr/bin/python3.11", "-m", "compileall", "-q", "-j", "1"]
    # -d records the path the file will have in the image, not the mount point used here.
    argv += ["--invalidation-mode", "unchecked-hash", "-d", SITE_PACKAGES, _MOUNT]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise CompileError(f"compileall in the base failed (exit {result.returncode}): {output}")
