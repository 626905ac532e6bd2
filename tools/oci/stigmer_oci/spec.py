"""What an image build needs, read and validated once: the service, its metadata, the inputs.

Each service is a uv workspace member under backend/services/<name> with exactly one
console script (its entrypoint). Everything else an image carries is declared here: the
Debian base, the unprivileged user, the environment every service image starts with.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from stigmer_oci.base import BaseSpec
from stigmer_oci.python_layers import VENV, Workspace

SERVICES_DIR = "backend/services"
DATA_DIR = "/var/lib/stigmer"
USER_NAME = "nonroot"
USER_ID = 65532
# 2025-01-01T00:00:00Z: the default SOURCE_DATE_EPOCH when the caller sets none.
DEFAULT_EPOCH = 1735689600
DEFAULT_SOURCE = "https://github.com/stigmer/stigmer"
BASE_PACKAGES = ("python3", "libstdc++6", "ca-certificates", "tzdata", "bubblewrap")

_COMMON_ENV = {
    "PATH": f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "PYTHONUNBUFFERED": "1",
    # The image is read-only at run time; bytecode is precompiled at build time.
    "PYTHONDONTWRITEBYTECODE": "1",
    "STIGMER_DATA_DIR": DATA_DIR,
}
# Only what differs in a container from a developer machine; the rest comes from the
# deployment (kustomize overlays), never baked in, and no secret ever is.
_SERVICE_ENV: Mapping[str, Mapping[str, str]] = {
    "stigmer-server": {"STIGMER_SERVER_ADDRESS": "0.0.0.0:50051"},
    "agent-runner": {"SANDBOX_TYPE": "local"},
}
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class SpecError(ValueError):
    """A build input is missing or malformed; the message names it and what is expected."""


@dataclass(frozen=True)
class Service:
    name: str  # directory name and uv package name
    package: str
    version: str
    script: str


@dataclass(frozen=True)
class BuildSpec:
    service: Service
    workspace: Workspace
    base: BaseSpec
    out: Path
    tag: str
    epoch: int
    revision: str
    source: str
    cache_dir: Path

    @property
    def env(self) -> dict[str, str]:
        return {**_COMMON_ENV, **_SERVICE_ENV.get(self.service.name, {})}

    @property
    def labels(self) -> dict[str, str]:
        prefix = "org.opencontainers.image"
        return {
            f"{prefix}.title": self.service.name,
            f"{prefix}.version": self.service.version,
            f"{prefix}.revision": self.revision,
            f"{prefix}.source": self.source,
        }


def known_services(root: Path) -> list[str]:
    directory = root / SERVICES_DIR
    return sorted(path.parent.name for path in directory.glob("*/pyproject.toml"))


def load_service(root: Path, name: str) -> Service:
    pyproject = root / SERVICES_DIR / name / "pyproject.toml"
    if not pyproject.is_file():
        known = ", ".join(known_services(root)) or "none"
        raise SpecError(f"service: unknown service {name!r}; expected one of: {known}")
    project = tomllib.loads(pyproject.read_text()).get("project", {})
    scripts = project.get("scripts", {})
    if len(scripts) != 1:
        raise SpecError(
            f"{pyproject}: [project.scripts] must hold exactly one entrypoint, found {len(scripts)}"
        )
    return Service(
        name=name,
        package=str(project["name"]),
        version=str(project.get("version", "0.0.0")),
        script=next(iter(scripts)),
    )


def check_tag(tag: str) -> str:
    if not _TAG.match(tag):
        raise SpecError(
            f"tag: {tag!r} is not a valid image tag (letters, digits, '_', '.', '-'; at most 128)"
        )
    return tag


def check_epoch(value: str) -> int:
    if not value.isdigit():
        raise SpecError(f"SOURCE_DATE_EPOCH: expected whole seconds since 1970, got {value!r}")
    return int(value)


def base_spec(*, suite: str, mirror: str, epoch: int) -> BaseSpec:
    if not re.match(r"^[a-z][a-z0-9-]*$", suite):
        raise SpecError(f"suite: {suite!r} is not a Debian suite name such as 'bookworm'")
    if not mirror.startswith(("http://", "https://", "file://")):
        raise SpecError(
            f"mirror: expected an http(s):// or file:// Debian mirror URL, got {mirror!r}"
        )
    return BaseSpec(
        suite=suite,
        mirror=mirror,
        packages=BASE_PACKAGES,
        epoch=epoch,
        user_name=USER_NAME,
        user_id=USER_ID,
        writable_dirs=(DATA_DIR,),
    )
