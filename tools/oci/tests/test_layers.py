"""Layer tarballs and the OCI layout depend on content only, never on umask, times or order."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from stigmer_oci.layers import (
    LayerError,
    compress_to_blob,
    retar_base,
    write_tree_tar,
)
from stigmer_oci.layout import (
    REF_NAME,
    ImageConfig,
    canonical_json,
    read_manifest_digest,
    write_layout,
)

EPOCH = 1735689600


def _make_tree(root: Path, *, umask: int, mtime: int, reverse: bool) -> None:
    """The same content created in a different order, umask and time."""
    old = os.umask(umask)
    try:
        files = [("pkg/__init__.py", b""), ("pkg/mod.py", b"x = 1\n"), ("bin/tool", b"#!/bin/sh\n")]
        for name, content in reversed(files) if reverse else files:
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        (root / "bin/tool").chmod(0o700 & ~umask | 0o100)
        (root / "pkg/link").symlink_to("mod.py")
    finally:
        os.umask(old)
    for path in [root, *root.rglob("*")]:
        os.utime(path, (mtime, mtime), follow_symlinks=False)


def _tar_bytes(root: Path) -> bytes:
    sink = io.BytesIO()
    write_tree_tar(root, sink, epoch=EPOCH)
    return sink.getvalue()


def test_tree_tar_is_identical_across_umask_mtime_and_creation_order(tmp_path: Path) -> None:
    _make_tree(tmp_path / "a", umask=0o022, mtime=1_000_000, reverse=False)
    _make_tree(tmp_path / "b", umask=0o077, mtime=2_000_000_000, reverse=True)

    assert _tar_bytes(tmp_path / "a") == _tar_bytes(tmp_path / "b")


def test_tree_tar_normalises_owner_mode_and_time(tmp_path: Path) -> None:
    _make_tree(tmp_path, umask=0o077, mtime=1_000_000, reverse=False)

    with tarfile.open(fileobj=io.BytesIO(_tar_bytes(tmp_path))) as tar:
        members = {member.name: member for member in tar.getmembers()}

    assert list(members) == sorted(members)
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members.values()} == {
        (0, 0, "", "", EPOCH)
    }
    assert members["bin/tool"].mode == 0o755
    assert members["pkg/mod.py"].mode == 0o644
    assert members["pkg"].mode == 0o755
    assert members["pkg/link"].issym()
    assert members["pkg/link"].linkname == "mod.py"


def test_tree_tar_rejects_special_files(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")

    with pytest.raises(LayerError, match="only files, directories and symlinks"):
        _tar_bytes(tmp_path)


def _debian_like_tar(path: Path) -> None:
    """A rootfs tarball the way mmdebstrap writes one: ./ names, real owners, special modes."""
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for name, kind, mode, uid, gid in [
            ("./", tarfile.DIRTYPE, 0o755, 0, 0),
            ("./usr/", tarfile.DIRTYPE, 0o755, 0, 0),
            ("./tmp/", tarfile.DIRTYPE, 0o1777, 0, 0),
            ("./etc/shadow", tarfile.REGTYPE, 0o640, 0, 42),
            ("./usr/bin/", tarfile.DIRTYPE, 0o755, 0, 0),
            ("./usr/bin/python3", tarfile.SYMTYPE, 0o777, 0, 0),
        ]:
            entry = tarfile.TarInfo(name)
            entry.type, entry.mode, entry.uid, entry.gid = kind, mode, uid, gid
            entry.mtime = 123
            if kind == tarfile.SYMTYPE:
                entry.linkname = "python3.11"
            tar.addfile(entry, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)


def test_retar_base_keeps_owners_and_special_modes_and_adds_mount_points(tmp_path: Path) -> None:
    source = tmp_path / "rootfs.tar"
    _debian_like_tar(source)
    sink = io.BytesIO()

    retar_base(source, sink, epoch=EPOCH)

    with tarfile.open(fileobj=io.BytesIO(sink.getvalue())) as tar:
        members = {member.name: member for member in tar.getmembers()}
    assert list(members) == sorted(members)
    assert "." not in members
    assert {"dev", "proc", "sys"} <= set(members)
    assert members["tmp"].mode == 0o1777
    assert (members["etc/shadow"].gid, members["etc/shadow"].mode) == (42, 0o640)
    assert members["usr/bin/python3"].linkname == "python3.11"
    assert {member.mtime for member in members.values()} == {EPOCH}


def test_compressed_blob_is_named_by_its_digest_and_reproducible(tmp_path: Path) -> None:
    _make_tree(tmp_path / "tree", umask=0o022, mtime=5, reverse=False)
    tar_path = tmp_path / "layer.tar"
    tar_path.write_bytes(_tar_bytes(tmp_path / "tree"))

    first = compress_to_blob(tar_path, tmp_path / "blobs1")
    second = compress_to_blob(tar_path, tmp_path / "blobs2")

    blob = (tmp_path / "blobs1" / first.digest.removeprefix("sha256:")).read_bytes()
    assert first == second
    assert first.size == len(blob)
    assert first.digest == "sha256:" + hashlib.sha256(blob).hexdigest()
    assert first.diff_id == "sha256:" + hashlib.sha256(tar_path.read_bytes()).hexdigest()
    # gzip header: no file name flag, mtime 0.
    assert blob[3] & 0x08 == 0
    assert blob[4:8] == b"\0\0\0\0"
    assert gzip.decompress(blob) == tar_path.read_bytes()


def test_layout_is_canonical_and_records_the_image(tmp_path: Path) -> None:
    _make_tree(tmp_path / "tree", umask=0o022, mtime=5, reverse=False)
    tar_path = tmp_path / "layer.tar"
    tar_path.write_bytes(_tar_bytes(tmp_path / "tree"))
    out = tmp_path / "layout"
    layer = compress_to_blob(tar_path, out / "blobs" / "sha256")
    config = ImageConfig(
        entrypoint=["/opt/venv/bin/svc"],
        env={"B": "2", "A": "1"},
        working_dir="/var/lib/stigmer",
        user="65532:65532",
        labels={"org.opencontainers.image.title": "svc"},
    )

    ref = write_layout(out, config, [(layer, "the app")], tag="v1", epoch=EPOCH)

    index = json.loads((out / "index.json").read_text())
    assert index["manifests"][0]["annotations"] == {REF_NAME: "v1"}
    assert read_manifest_digest(out, "v1") == ref.manifest_digest
    manifest_bytes = (
        out / "blobs/sha256" / ref.manifest_digest.removeprefix("sha256:")
    ).read_bytes()
    manifest = json.loads(manifest_bytes)
    assert canonical_json(manifest) == manifest_bytes
    config_doc = json.loads(
        (out / "blobs/sha256" / manifest["config"]["digest"].removeprefix("sha256:")).read_text()
    )
    assert config_doc["config"]["Env"] == ["A=1", "B=2"]
    assert config_doc["config"]["User"] == "65532:65532"
    assert config_doc["rootfs"]["diff_ids"] == [layer.diff_id]
    assert config_doc["created"] == "2025-01-01T00:00:00Z"
    assert config_doc["history"] == [{"created": "2025-01-01T00:00:00Z", "created_by": "the app"}]
    with pytest.raises(LookupError, match="no manifest tagged 'v2'"):
        read_manifest_digest(out, "v2")
