"""The Debian base layer: mmdebstrap once per input set, cached under a git-ignored directory.

The base depends on the suite, the mirror, the package list, the hooks and
SOURCE_DATE_EPOCH; the cache key is a hash of exactly the mmdebstrap command line that
those produce, so changing any of them builds a new base and an unchanged set reuses the
old one (mmdebstrap takes ~30 s; the re-encoded, compressed layer takes longer again).
What the key cannot see is the mirror's content: the same suite fetched a month later
may hold newer package versions. Point the mirror at snapshot.debian.org to pin that too.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from stigmer_oci.layers import Layer, compress_to_blob, retar_base

logger = logging.getLogger(__name__)

# Paths dpkg never unpacks: documentation and translations have no use in a service image.
_PATH_EXCLUDES = (
    "/usr/share/man/*",
    "/usr/share/doc/*",
    "/usr/share/locale/*",
    "/usr/share/info/*",
)
# Licences stay: the copyright files are what a distributed image must carry.
_PATH_INCLUDES = ("/usr/share/doc/*/copyright",)


# Bump when the re-encoding of the base changes in a way the mmdebstrap inputs do not show.
_RECIPE = "2"


class BaseBuildError(RuntimeError):
    """mmdebstrap or the extraction of its rootfs failed."""


@dataclass(frozen=True)
class BaseSpec:
    suite: str
    mirror: str
    packages: tuple[str, ...]
    epoch: int
    user_name: str
    user_id: int
    # Directories the unprivileged user must be able to write (data and workspace volumes).
    writable_dirs: tuple[str, ...]


@dataclass(frozen=True)
class BaseImage:
    """A cached base: the compressed layer and the unpacked rootfs to run the interpreter in."""

    layer: Layer
    blob: Path
    rootfs: Path
    python_version: str


def mmdebstrap_argv(spec: BaseSpec, output: Path) -> list[str]:
    uid = spec.user_id
    hooks = [
        # Copied from the build host otherwise; the runtime provides its own.
        'rm -f "$1/etc/resolv.conf" "$1/etc/hostname"',
        # The essential variant has no useradd; plain lines also avoid shadow's date stamps.
        f'echo "{spec.user_name}:x:{uid}:{uid}:{spec.user_name}:/nonexistent:/usr/sbin/nologin"'
        ' >> "$1/etc/passwd"',
        f'echo "{spec.user_name}:x:{uid}:" >> "$1/etc/group"',
        *(
            f'mkdir -p "$1{path}" && chown {uid}:{uid} "$1{path}" && chmod 0750 "$1{path}"'
            for path in spec.writable_dirs
        ),
    ]
    argv = ["mmdebstrap", "--variant=essential", "--include=" + ",".join(spec.packages)]
    argv += [f"--dpkgopt=path-exclude={pattern}" for pattern in _PATH_EXCLUDES]
    argv += [f"--dpkgopt=path-include={pattern}" for pattern in _PATH_INCLUDES]
    argv += [f"--customize-hook={hook}" for hook in hooks]
    argv += ["--skip=output/dev", "--format=tar", spec.suite, str(output), spec.mirror]
    return argv


def cache_key(spec: BaseSpec) -> str:
    recipe = {
        "argv": mmdebstrap_argv(spec, Path("rootfs.tar")),
        "spec": asdict(spec),
        "recipe": _RECIPE,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:32]


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on path across processes: one builder per cache entry at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(argv: Sequence[str], what: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise BaseBuildError(f"{what} failed (exit {result.returncode}):\n{tail}")
    return result.stdout


def _python_version(rootfs: Path) -> str:
    """The base's Python version as dpkg recorded it (3.11.2 from 3.11.2-6+deb12u6)."""
    status = (rootfs / "var/lib/dpkg/status").read_text()
    for block in status.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if fields.get("Package") == "python3.11" and "Version" in fields:
            return fields["Version"].split("-", 1)[0]
    raise BaseBuildError(f"{rootfs}: the base has no python3.11 package")


def _build(spec: BaseSpec, target: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix="base-", dir=target.parent))
    try:
        tarball = work / "rootfs.tar"
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(spec.epoch)}
        logger.info("building the %s base with mmdebstrap (about 30 s)", spec.suite)
        _run(mmdebstrap_argv(spec, tarball), "mmdebstrap", env)
        layer_tar = work / "layer.tar"
        with layer_tar.open("wb") as sink:
            retar_base(tarball, sink, epoch=spec.epoch)
        layer = compress_to_blob(layer_tar, work / "blobs")
        layer_tar.unlink()
        rootfs = work / "rootfs"
        rootfs.mkdir()
        _run(
            ["tar", "-x", "--numeric-owner", "-p", "-C", str(rootfs), "-f", str(tarball)], "tar -x"
        )
        tarball.unlink()
        # bubblewrap needs a /dev mount point to run the base's Python (output/dev is skipped).
        (rootfs / "dev").mkdir(exist_ok=True)
        record = {"layer": asdict(layer), "python_version": _python_version(rootfs)}
        (work / "base.json").write_text(json.dumps(record, sort_keys=True))
        work.replace(target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def ensure_base(spec: BaseSpec, cache_dir: Path) -> BaseImage:
    """The cached base for spec, building it first when the cache has none."""
    key = cache_key(spec)
    target = cache_dir / "base" / key
    with locked(cache_dir / "base" / f"{key}.lock"):
        if not (target / "base.json").is_file():
            if target.exists():
                shutil.rmtree(target)
            _build(spec, target)
        else:
            logger.info("reusing the cached base %s", key)
    record = json.loads((target / "base.json").read_text())
    layer = Layer(**record["layer"])
    blob = target / "blobs" / layer.digest.removeprefix("sha256:")
    return BaseImage(
        layer=layer, blob=blob, rootfs=target / "rootfs", python_version=record["python_version"]
    )
