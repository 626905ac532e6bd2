"""`python3 -m stigmer_oci <service> --out DIR`: build a service's OCI image without Docker.

Prints one JSON object on stdout (tag, manifest digest, layout, tarball); progress and
errors go to stderr. Needs mmdebstrap and bubblewrap (and skopeo for --tarball), root or
unprivileged user namespaces, and the Debian mirror and PyPI on first build.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from stigmer_oci.base import BaseBuildError
from stigmer_oci.build import BuildError, build_image, write_docker_archive
from stigmer_oci.compile import CompileError
from stigmer_oci.layers import LayerError
from stigmer_oci.python_layers import PythonLayerError, Workspace
from stigmer_oci.spec import (
    DEFAULT_EPOCH,
    DEFAULT_SOURCE,
    BuildSpec,
    SpecError,
    base_spec,
    check_epoch,
    check_tag,
    load_service,
)

logger = logging.getLogger("stigmer_oci")
_REPO_ROOT = Path(__file__).resolve().parents[3]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stigmer_oci", description=__doc__.splitlines()[0])
    parser.add_argument("service", help="a directory name under backend/services")
    parser.add_argument("--out", type=Path, required=True, help="the OCI layout directory to write")
    parser.add_argument(
        "--tag", default="latest", help="the tag inside the layout (default: latest)"
    )
    parser.add_argument("--tarball", type=Path, help="also write a docker-archive tarball here")
    parser.add_argument(
        "--revision", help="the org.opencontainers.image.revision label (default: git HEAD)"
    )
    parser.add_argument(
        "--source", default=DEFAULT_SOURCE, help="the org.opencontainers.image.source label"
    )
    parser.add_argument("--suite", default="bookworm", help="the Debian suite of the base")
    parser.add_argument(
        "--mirror",
        default="http://deb.debian.org/debian",
        help="the Debian mirror (a snapshot.debian.org URL pins the package versions too)",
    )
    parser.add_argument("--repo-root", type=Path, default=_REPO_ROOT, help="the uv workspace root")
    parser.add_argument(
        "--cache-dir", type=Path, help="the base and layer cache (default: <repo>/.cache/oci)"
    )
    parser.add_argument(
        "--uv", type=Path, help="the uv binary (default: <repo>/.tools/bin/uv, then PATH)"
    )
    parser.add_argument(
        "--no-layer-cache",
        action="store_true",
        help="rebuild the dependency layer (the base stays cached)",
    )
    return parser


def _find_uv(root: Path, given: Path | None) -> Path:
    if given is not None:
        if not os.access(given, os.X_OK):
            raise SpecError(f"--uv: {given} is not an executable uv")
        return given
    local = root / ".tools" / "bin" / "uv"
    if os.access(local, os.X_OK):
        return local
    found = shutil.which("uv")
    if found is None:
        raise SpecError("uv not found: run `make setup` or pass --uv")
    return Path(found)


def _git_revision(root: Path) -> str:
    result = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SpecError(f"--revision: not given and `git rev-parse HEAD` failed in {root}; pass it")
    return result.stdout.strip()


def _spec(args: argparse.Namespace) -> BuildSpec:
    root = args.repo_root.resolve()
    epoch = check_epoch(os.environ.get("SOURCE_DATE_EPOCH", str(DEFAULT_EPOCH)))
    return BuildSpec(
        service=load_service(root, args.service),
        workspace=Workspace(
            root=root,
            uv=_find_uv(root, args.uv),
            build_constraints=Path(__file__).resolve().parents[1] / "build-constraints.txt",
        ),
        base=base_spec(suite=args.suite, mirror=args.mirror, epoch=epoch),
        out=args.out.resolve(),
        tag=check_tag(args.tag),
        epoch=epoch,
        revision=args.revision or _git_revision(root),
        source=args.source,
        cache_dir=(args.cache_dir or root / ".cache" / "oci").resolve(),
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="stigmer_oci: %(message)s", stream=sys.stderr)
    try:
        spec = _spec(args)
        for tool in ("mmdebstrap", "bwrap"):
            if shutil.which(tool) is None:
                raise SpecError(
                    f"{tool} not found: run `make setup` (Debian package mmdebstrap/bubblewrap)"
                )
        ref = build_image(spec, use_layer_cache=not args.no_layer_cache)
        tarball = None
        if args.tarball is not None:
            tarball = args.tarball.resolve()
            write_docker_archive(spec.out, spec.tag, spec.service.name, tarball)
    except (
        SpecError,
        BaseBuildError,
        BuildError,
        CompileError,
        LayerError,
        PythonLayerError,
        OSError,  # an unwritable output or cache directory, a full disk
    ) as exc:
        print(f"stigmer_oci: error: {exc}", file=sys.stderr)
        return 1
    result = {
        "service": spec.service.name,
        "tag": ref.tag,
        "digest": ref.manifest_digest,
        "layout": str(spec.out),
        "tarball": str(tarball) if tarball else None,
    }
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
