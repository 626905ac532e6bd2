"""Assemble a service image: cached Debian base, dependency layer, app layer, OCI layout.

The dependency layer depends only on the service's slice of uv.lock and the base, so it is
cached under the same key; the app layer is rebuilt every time (it is small). The layout is
written next to its destination and renamed into place, so a failed build never leaves a
half-written image where a previous good one was.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from stigmer_oci.base import BaseImage, cache_key, ensure_base, locked
from stigmer_oci.compile import compile_site_packages
from stigmer_oci.layers import Layer, compress_to_blob, write_tree_tar
from stigmer_oci.layout import ImageConfig, ImageRef, write_layout
from stigmer_oci.python_layers import (
    SITE_PACKAGES,
    VENV,
    ServiceLock,
    build_app_tree,
    build_deps_tree,
    export_lock,
)
from stigmer_oci.spec import USER_ID, BuildSpec

logger = logging.getLogger(__name__)

# Bump when the layer recipe changes in a way the inputs do not show, to retire old caches.
_RECIPE = "3"


class BuildError(RuntimeError):
    """The image could not be assembled; the message says which step failed."""


def _place_blob(source: Path, blobs: Path, layer: Layer) -> None:
    target = blobs / layer.digest.removeprefix("sha256:")
    if target.exists():
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _tree_layer(tree: Path, blobs: Path, epoch: int) -> Layer:
    with tempfile.TemporaryDirectory(prefix="layer-", dir=blobs) as scratch:
        tar_path = Path(scratch, "layer.tar")
        with tar_path.open("wb") as sink:
            write_tree_tar(tree, sink, epoch=epoch)
        return compress_to_blob(tar_path, blobs)


def _cached_layer(
    cache: Path, key: str, build: Callable[[Path], Layer], use_cache: bool, blobs: Path
) -> Layer:
    """A layer built by build(blob_dir), kept in cache/layers/<key>, placed into blobs.

    The key's lock is held until the blob is linked into the new layout, so a concurrent
    build replacing the same cache entry cannot pull it away half-way.
    """
    directory = cache / "layers" / key
    record = directory / "layer.json"
    with locked(cache / "layers" / f"{key}.lock"):
        if use_cache and record.is_file():
            layer = Layer(**json.loads(record.read_text()))
            logger.info("reusing the cached dependency layer %s", key)
        else:
            scratch = Path(tempfile.mkdtemp(prefix="layer-", dir=cache))
            try:
                layer = build(scratch)
                (scratch / "layer.json").write_text(json.dumps(asdict(layer), sort_keys=True))
                if directory.exists():
                    shutil.rmtree(directory)
                scratch.replace(directory)
            except BaseException:
                shutil.rmtree(scratch, ignore_errors=True)
                raise
        _place_blob(directory / layer.digest.removeprefix("sha256:"), blobs, layer)
    return layer


def _deps_layer(
    spec: BuildSpec, base: BaseImage, lock: ServiceLock, use_cache: bool, blobs: Path
) -> Layer:
    key_text = json.dumps(
        [_RECIPE, cache_key(spec.base), base.python_version, spec.epoch, lock.requirements]
    )
    key = hashlib.sha256(key_text.encode()).hexdigest()[:32]

    def build(blobs: Path) -> Layer:
        with tempfile.TemporaryDirectory(prefix="deps-", dir=spec.cache_dir) as scratch:
            tree = Path(scratch, "tree")
            build_deps_tree(
                spec.workspace,
                lock,
                tree,
                python_version=base.python_version,
                cache=spec.cache_dir / "uv",
            )
            compile_site_packages(base.rootfs, tree / SITE_PACKAGES.lstrip("/"))
            return _tree_layer(tree, blobs, spec.epoch)

    return _cached_layer(spec.cache_dir, key, build, use_cache, blobs)


def _app_layer(spec: BuildSpec, base: BaseImage, lock: ServiceLock, blobs: Path) -> Layer:
    with tempfile.TemporaryDirectory(prefix="app-", dir=spec.cache_dir) as scratch:
        tree = Path(scratch, "tree")
        build_app_tree(spec.workspace, lock, tree, epoch=spec.epoch, cache=spec.cache_dir / "uv")
        entrypoint = tree / VENV.lstrip("/") / "bin" / spec.service.script
        if not entrypoint.is_file():
            raise BuildError(f"the app layer has no console script {entrypoint.name!r}")
        compile_site_packages(base.rootfs, tree / SITE_PACKAGES.lstrip("/"))
        return _tree_layer(tree, blobs, spec.epoch)


def _replace_layout(staging: Path, out: Path) -> None:
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()  # Bazel creates a declared directory output before the action runs.
    if out.exists():
        if not (out / "oci-layout").is_file():
            raise BuildError(f"{out} exists and is not an OCI layout: refusing to replace it")
        shutil.rmtree(out)
    staging.replace(out)


def build_image(spec: BuildSpec, *, use_layer_cache: bool = True) -> ImageRef:
    """Build spec's image into spec.out (an OCI layout) and return its tag and digest."""
    spec.cache_dir.mkdir(parents=True, exist_ok=True)
    spec.out.parent.mkdir(parents=True, exist_ok=True)
    base = ensure_base(spec.base, spec.cache_dir)
    lock = export_lock(spec.workspace, spec.service.package)
    staging = Path(tempfile.mkdtemp(prefix=f".{spec.out.name}-", dir=spec.out.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would make the layout unreadable to other users
    try:
        blobs = staging / "blobs" / "sha256"
        blobs.mkdir(parents=True)
        _place_blob(base.blob, blobs, base.layer)
        deps = _deps_layer(spec, base, lock, use_layer_cache, blobs)
        app = _app_layer(spec, base, lock, blobs)
        config = ImageConfig(
            entrypoint=[f"{VENV}/bin/{spec.service.script}"],
            env=spec.env,
            working_dir=spec.env["STIGMER_DATA_DIR"],
            user=f"{USER_ID}:{USER_ID}",
            labels=spec.labels,
        )
        layers = [
            (base.layer, f"debian {spec.base.suite}: {', '.join(spec.base.packages)}"),
            (deps, f"python dependencies of {spec.service.package} from uv.lock"),
            (app, f"{spec.service.package} {spec.service.version} and workspace libraries"),
        ]
        ref = write_layout(staging, config, layers, tag=spec.tag, epoch=spec.epoch)
        _replace_layout(staging, spec.out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ref


def write_docker_archive(layout: Path, tag: str, name: str, tarball: Path) -> None:
    """A docker-archive tarball of the layout's image, which `docker load` accepts."""
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        raise BuildError(
            "skopeo is required for the docker-archive tarball: apt-get install skopeo"
        )
    tarball.unlink(missing_ok=True)
    argv = [
        skopeo,
        "copy",
        "--quiet",
        f"oci:{layout}:{tag}",
        f"docker-archive:{tarball}:{name}:{tag}",
    ]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(f"skopeo copy to docker-archive failed: {result.stderr.strip()}")
