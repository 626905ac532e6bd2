"""The two Python layers: third-party wheels from the lock, then the service and its libraries.

Both install into /opt/venv, a virtual environment made by hand around the base's
/usr/bin/python3.11: uv installs for the target platform (cp311, manylinux_2_36 = bookworm's
glibc) without running any interpreter of the image, so the result is the same on any build
host. What uv leaves that would tie an image to its build host is removed or rewritten:
its `.lock`, `direct_url.json` and `uv_cache.json` (a local wheel's path and install time),
and the host interpreter in the console scripts' shebangs.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

VENV = "/opt/venv"
SITE_PACKAGES = f"{VENV}/lib/python3.11/site-packages"
# What uv records about the build host: the local wheel's path, and for local wheels the time
# of the install (uv_cache.json). Neither belongs in an image; both would move its digest.
_HOST_RECORDS = ("direct_url.json", "uv_cache.json")
_PLATFORM = ("--python-version", "3.11", "--python-platform", "x86_64-manylinux_2_36")


class PythonLayerError(RuntimeError):
    """uv could not export, build or install what a layer needs."""


@dataclass(frozen=True)
class Workspace:
    """Where the uv workspace is, which uv to drive it with, and the pinned build backend."""

    root: Path
    uv: Path
    build_constraints: Path  # hash-pinned hatchling for the workspace wheels


@dataclass(frozen=True)
class ServiceLock:
    """A service's pinned third-party requirements and the workspace members it imports."""

    requirements: str  # hash-pinned requirements.txt text, workspace members left out
    members: tuple[Path, ...]  # directories of the workspace packages, the service included


def _uv(
    workspace: Workspace, args: Sequence[str], what: str, env: dict[str, str] | None = None
) -> str:
    result = subprocess.run(
        [str(workspace.uv), *args],
        cwd=workspace.root,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        raise PythonLayerError(f"{what} failed (exit {result.returncode}): {result.stderr.strip()}")
    return result.stdout


def export_lock(workspace: Workspace, package: str) -> ServiceLock:
    """The service's slice of uv.lock: the same pins Bazel's venv uses, for this service only."""
    common = ["export", "--frozen", "--package", package, "--no-dev", "--no-header"]
    common += ["--format", "requirements-txt"]
    requirements = _uv(workspace, [*common, "--no-emit-workspace"], f"uv export {package}")
    with_members = _uv(workspace, common, f"uv export {package}")
    members = tuple(
        sorted(
            (workspace.root / line.removeprefix("-e ").strip()).resolve()
            for line in with_members.splitlines()
            if line.startswith("-e ")
        )
    )
    if not members:
        raise PythonLayerError(f"uv export {package}: no workspace member named {package!r}")
    return ServiceLock(requirements=requirements, members=members)


def _make_venv(root: Path, python_version: str) -> Path:
    venv = root / VENV.lstrip("/")
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    (venv / "lib/python3.11/site-packages").mkdir(parents=True, exist_ok=True)
    for name in ("python", "python3", "python3.11"):
        (venv / "bin" / name).symlink_to("/usr/bin/python3.11")
    (venv / "lib64").symlink_to("lib")
    (venv / "pyvenv.cfg").write_text(
        f"home = /usr/bin\ninclude-system-site-packages = false\nversion = {python_version}\n"
    )
    return venv


def _record_hash(content: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def _finish_site_packages(site: Path) -> None:
    """Move console scripts to /opt/venv/bin with an image shebang; drop host-specific files.

    `uv pip install --target` writes scripts to <target>/bin with the build host's interpreter
    in the shebang; RECORD lists them there. They move to where a venv keeps them, and RECORD
    follows with the new hash, so the installed metadata stays consistent.
    """
    (site / ".lock").unlink(missing_ok=True)
    scripts = site / "bin"
    venv_bin = site.parents[2] / "bin"
    moved: dict[str, tuple[str, bytes]] = {}
    if scripts.is_dir():
        for script in sorted(scripts.iterdir()):
            content = script.read_bytes()
            if content.startswith(b"#!"):
                content = b"#!" + VENV.encode() + b"/bin/python" + content[content.index(b"\n") :]
            (venv_bin / script.name).write_bytes(content)
            (venv_bin / script.name).chmod(0o755)
            moved[f"bin/{script.name}"] = (f"../../../bin/{script.name}", content)
        shutil.rmtree(scripts)
    for record in sorted(site.glob("*.dist-info/RECORD")):
        for name in _HOST_RECORDS:
            (record.parent / name).unlink(missing_ok=True)
        lines = []
        for line in record.read_text().splitlines():
            path = line.rsplit(",", 2)[0]
            if path.rsplit("/", 1)[-1] in _HOST_RECORDS:
                continue
            if path in moved:
                new_path, content = moved[path]
                line = f"{new_path},{_record_hash(content)},{len(content)}"
            lines.append(line)
        record.write_text("\n".join(lines) + "\n")


def _install(workspace: Workspace, site: Path, args: Sequence[str], what: str, cache: Path) -> None:
    # Copies, never links: files are rewritten afterwards and must not alias uv's cache.
    install = ["pip", "install", "--target", str(site), *_PLATFORM, "--no-deps"]
    install += ["--link-mode", "copy", "--cache-dir", str(cache), "--quiet"]
    _uv(workspace, [*install, *args], what)
    _finish_site_packages(site)


def build_deps_tree(
    workspace: Workspace, lock: ServiceLock, root: Path, *, python_version: str, cache: Path
) -> None:
    """The dependency layer's tree under root: the venv and every locked wheel, hash-checked."""
    venv = _make_venv(root, python_version)
    with tempfile.TemporaryDirectory(prefix="lock-") as scratch:
        requirements = Path(scratch, "requirements.txt")
        requirements.write_text(lock.requirements)
        args = ["--only-binary", ":all:", "--require-hashes", "-r", str(requirements)]
        _install(
            workspace, venv / "lib/python3.11/site-packages", args, "uv pip install (deps)", cache
        )


def build_app_tree(
    workspace: Workspace, lock: ServiceLock, root: Path, *, epoch: int, cache: Path
) -> None:
    """The app layer's tree under root: wheels of the service and the workspace libraries."""
    site = root / SITE_PACKAGES.lstrip("/")
    site.mkdir(parents=True)
    (root / VENV.lstrip("/") / "bin").mkdir(parents=True)
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}
    with tempfile.TemporaryDirectory(prefix="wheels-") as scratch:
        for member in lock.members:
            build = [
                "build",
                "--wheel",
                "--out-dir",
                scratch,
                "--cache-dir",
                str(cache),
                str(member),
            ]
            _uv(workspace, [*build, "--quiet"], f"uv build {member.name}", env)
        wheels = sorted(str(path) for path in Path(scratch).glob("*.whl"))
        _install(workspace, site, ["--no-index", *wheels], "uv pip install (app)", cache)
