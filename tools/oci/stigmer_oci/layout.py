"""The OCI image layout: config, manifest and index as canonical JSON next to the layer blobs.

Canonical JSON (sorted keys, no whitespace) and a `created` time taken from
SOURCE_DATE_EPOCH keep the config and manifest digests a function of the inputs alone.
History entries name what a layer holds, never a build path.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stigmer_oci.layers import Layer

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"


@dataclass(frozen=True)
class ImageConfig:
    """What the runtime needs: the process, its user and environment, and the labels."""

    entrypoint: Sequence[str]
    env: Mapping[str, str]
    working_dir: str
    user: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class ImageRef:
    """The written image: its tag in the layout and the manifest digest."""

    tag: str
    manifest_digest: str
    manifest_size: int


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def rfc3339(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _write_blob(blobs: Path, content: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(content).hexdigest()
    (blobs / digest).write_bytes(content)
    return f"sha256:{digest}", len(content)


def config_document(
    config: ImageConfig, layers: Sequence[tuple[Layer, str]], *, epoch: int
) -> dict[str, Any]:
    """The image config JSON; layers pairs each layer with its history text."""
    created = rfc3339(epoch)
    return {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": {
            "Entrypoint": list(config.entrypoint),
            "Env": [f"{name}={value}" for name, value in sorted(config.env.items())],
            "WorkingDir": config.working_dir,
            "User": config.user,
            "Labels": dict(config.labels),
        },
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer, _ in layers]},
        "history": [{"created": created, "created_by": text} for _, text in layers],
    }


def write_layout(
    out: Path,
    config: ImageConfig,
    layers: Sequence[tuple[Layer, str]],
    *,
    tag: str,
    epoch: int,
) -> ImageRef:
    """Write config, manifest, index.json and oci-layout into out (layer blobs already there)."""
    blobs = out / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    config_digest, config_size = _write_blob(
        blobs, canonical_json(config_document(config, layers, epoch=epoch))
    )
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": config_size},
        "layers": [
            {"mediaType": MEDIA_LAYER, "digest": layer.digest, "size": layer.size}
            for layer, _ in layers
        ],
    }
    manifest_digest, manifest_size = _write_blob(blobs, canonical_json(manifest))
    index = {
        "schemaVersion": 2,
        "mediaType": MEDIA_INDEX,
        "manifests": [
            {
                "mediaType": MEDIA_MANIFEST,
                "digest": manifest_digest,
                "size": manifest_size,
                "annotations": {REF_NAME: tag},
            }
        ],
    }
    (out / "index.json").write_bytes(canonical_json(index))
    (out / "oci-layout").write_bytes(canonical_json({"imageLayoutVersion": "1.0.0"}))
    return ImageRef(tag=tag, manifest_digest=manifest_digest, manifest_size=manifest_size)


def read_manifest_digest(layout: Path, tag: str) -> str:
    """The manifest digest the layout's index records for tag."""
    index = json.loads((layout / "index.json").read_text())
    for entry in index.get("manifests", []):
        if entry.get("annotations", {}).get(REF_NAME) == tag:
            return str(entry["digest"])
    raise LookupError(f"{layout}: no manifest tagged {tag!r} in index.json")
