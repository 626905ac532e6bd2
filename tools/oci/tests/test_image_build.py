"""Two builds of the agent-runner image from the same inputs give the same manifest digest.

The real tool runs end to end: the cached Debian base (mmdebstrap on the first run of a
machine, ~2 min), the dependency layer, the app layer, the layout. Both build from one
snapshot of the workspace (others edit the shared tree meanwhile). The first may take
the dependency layer from the cache (built by any earlier build of the same lock); the
second bypasses the cache and rebuilds it from uv.lock under another umask, where a naive
tar would change its modes, so the equality is not the cache's doing.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

TOOL_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = TOOL_DIR.parents[1]
REVISION = "0123456789abcdef0123456789abcdef01234567"


def _snapshot(target: Path) -> Path:
    """The workspace's build inputs, frozen: the tree is shared with people editing it."""
    for name in ("pyproject.toml", "uv.lock", ".gitignore"):
        shutil.copy2(REPO_ROOT / name, target / name)
    members = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]
    skip = shutil.ignore_patterns("__pycache__", ".mypy_cache", "tests", "node_modules", ".env*")
    for member in members["members"]:
        shutil.copytree(REPO_ROOT / member, target / member, ignore=skip, symlinks=True)
    return target


def _build(
    workspace: Path, out: Path, umask: int, *, fresh: bool, tarball: Path | None = None
) -> dict[str, Any]:
    started = time.monotonic()
    argv = [sys.executable, "-m", "stigmer_oci", "agent-runner", "--out", str(out)]
    argv += ["--tag", "repro", "--revision", REVISION, "--repo-root", str(workspace)]
    # The shared cache keeps the Debian base; the uv binary stays the checkout's.
    argv += ["--cache-dir", str(REPO_ROOT / ".cache" / "oci"), "--uv", str(_uv())]
    if fresh:
        argv.append("--no-layer-cache")
    if tarball is not None:
        argv += ["--tarball", str(tarball)]
    env = {**os.environ, "PYTHONPATH": str(TOOL_DIR)}
    env.pop("SOURCE_DATE_EPOCH", None)
    in_umask = ["sh", "-c", f'umask {umask:04o} && exec "$@"', "sh", *argv]
    result = subprocess.run(in_umask, capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    print(f"image build (umask {umask:04o}) took {time.monotonic() - started:.1f} s")
    built: dict[str, Any] = json.loads(result.stdout)
    return built


def _uv() -> Path:
    local = REPO_ROOT / ".tools" / "bin" / "uv"
    found = local if local.is_file() else shutil.which("uv")
    assert found is not None, "uv not found: run make setup"
    return Path(found)


def _blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    root = tmp_path_factory.mktemp("images")
    workspace = _snapshot(tmp_path_factory.mktemp("workspace"))
    first = _build(workspace, root / "first", 0o022, fresh=False, tarball=root / "first.tar")
    return first, _build(workspace, root / "second", 0o077, fresh=True)


def test_two_builds_give_the_same_manifest_digest(
    two_builds: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    first, second = two_builds

    def layers(built: dict[str, Any]) -> list[str]:
        manifest = json.loads(_blob(Path(built["layout"]), built["digest"]))
        return [layer["digest"] for layer in manifest["layers"]]

    assert first["digest"].startswith("sha256:")
    assert first["digest"] == second["digest"], (layers(first), layers(second))
    assert Path(first["layout"]) != Path(second["layout"])


def test_image_config_runs_the_service_as_the_unprivileged_user(
    two_builds: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    layout = Path(two_builds[0]["layout"])
    manifest = json.loads(_blob(layout, two_builds[0]["digest"]))
    config = json.loads(_blob(layout, manifest["config"]["digest"]))

    assert len(manifest["layers"]) == 3
    assert config["config"]["User"] == "65532:65532"
    assert config["config"]["Entrypoint"] == ["/opt/venv/bin/agent-runner"]
    assert config["config"]["WorkingDir"] == "/var/lib/stigmer"
    assert "STIGMER_DATA_DIR=/var/lib/stigmer" in config["config"]["Env"]
    assert config["config"]["Labels"] == {
        "org.opencontainers.image.title": "agent-runner",
        "org.opencontainers.image.version": "0.1.0",
        "org.opencontainers.image.revision": REVISION,
        "org.opencontainers.image.source": "https://github.com/stigmer/stigmer",
    }
    # No build path (the checkout, the cache, a temp dir) in the config or its history.
    text = json.dumps(config)
    for build_path in (str(REPO_ROOT), "/tmp/", "pytest-of", ".cache"):
        assert build_path not in text


def test_layers_carry_no_env_file_and_no_build_host_path(
    two_builds: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    layout = Path(two_builds[0]["layout"])
    manifest = json.loads(_blob(layout, two_builds[0]["digest"]))
    names: list[str] = []
    leaks: list[str] = []
    # The Python layers: the base comes from Debian and cannot contain our paths.
    for descriptor in manifest["layers"][1:]:
        data = gzip.decompress(_blob(layout, descriptor["digest"]))
        if str(REPO_ROOT).encode() in data or b"pytest-of-" in data:
            leaks.append(descriptor["digest"])
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            names += tar.getnames()

    assert leaks == []
    assert not [name for name in names if Path(name).name in {".env", ".env.local"}]
    assert "opt/venv/bin/agent-runner" in names
    assert "opt/venv/lib/python3.11/site-packages/agent_runner/__init__.py" in names
    assert not [name for name in names if name.endswith(("/.lock", "direct_url.json"))]
    site = "opt/venv/lib/python3.11/site-packages"
    assert f"{site}/agent_runner/__pycache__/__init__.cpython-311.pyc" in names
    assert f"{site}/grpc/__pycache__/__init__.cpython-311.pyc" in names


def test_docker_archive_tarball_names_the_image(
    two_builds: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    """The tarball `docker load` reads: manifest.json with the repository tag and 3 layers."""
    with tarfile.open(two_builds[0]["tarball"]) as tar:
        handle = tar.extractfile("manifest.json")
        assert handle is not None
        manifest = json.loads(handle.read())

    # skopeo qualifies a bare name as Docker Hub's, as `docker load` itself would.
    assert [entry["RepoTags"] for entry in manifest] == [["docker.io/library/agent-runner:repro"]]
    assert len(manifest[0]["Layers"]) == 3
