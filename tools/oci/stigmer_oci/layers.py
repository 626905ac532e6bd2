"""Reproducible layer tarballs: the same tree gives the same bytes on any machine and umask.

A layer's bytes must depend only on the file contents, names, link targets and the
executable bit: entries are written in sorted order with a fixed mtime, uid/gid 0 and
normalised modes, and gzip gets an empty file name and mtime 0. The base layer is an
exception on ownership and modes: it is re-encoded from the Debian tarball, whose owners
and modes dpkg set deliberately (`/etc/shadow` of group shadow, the sticky `/tmp`), so those are
kept while the order, names and times are normalised.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

_CHUNK = 1 << 20
# Level 6 is gzip's default; pinned so a change of Python's default cannot move a digest.
_GZIP_LEVEL = 6
_MOUNT_POINTS = ("dev", "proc", "sys", "tmp")


class LayerError(ValueError):
    """A tree or tarball that cannot become a layer (an unsupported file type, a bad path)."""


@dataclass(frozen=True)
class Layer:
    """A compressed layer blob in the layout's blob directory."""

    digest: str  # sha256:<hex> of the gzip blob
    diff_id: str  # sha256:<hex> of the uncompressed tar
    size: int  # bytes of the gzip blob


class _HashingWriter:
    """A write-only file object that hashes and counts what passes through it."""

    def __init__(self, sink: BinaryIO) -> None:
        self._sink = sink
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self._sink.write(data)

    def flush(self) -> None:
        self._sink.flush()


def normalised_mode(mode: int) -> int:
    """0755 for directories and anything executable, 0644 otherwise."""
    if stat.S_ISDIR(mode) or mode & 0o111:
        return 0o755
    return 0o644


def _sorted_tree(root: Path) -> list[tuple[str, Path]]:
    """Every path under root as (archive name, path), sorted by name so parents come first."""
    items: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        for child in (*dirnames, *filenames):
            path = Path(dirpath, child)
            items.append((path.relative_to(root).as_posix(), path))
    return sorted(items, key=lambda item: item[0])


def _tarinfo_for(name: str, path: Path, epoch: int) -> tarfile.TarInfo:
    info = os.lstat(path)
    entry = tarfile.TarInfo(name)
    entry.mtime = epoch
    entry.uid = entry.gid = 0
    entry.uname = entry.gname = ""
    if stat.S_ISLNK(info.st_mode):
        entry.type = tarfile.SYMTYPE
        entry.linkname = os.readlink(path)
        entry.mode = 0o777
    elif stat.S_ISDIR(info.st_mode):
        entry.type = tarfile.DIRTYPE
        entry.mode = 0o755
    elif stat.S_ISREG(info.st_mode):
        entry.type = tarfile.REGTYPE
        entry.size = info.st_size
        entry.mode = normalised_mode(info.st_mode)
    else:
        raise LayerError(f"{path}: only files, directories and symlinks can go into a layer")
    return entry


def write_tree_tar(root: Path, sink: BinaryIO, *, epoch: int) -> None:
    """Write the tree under root as a normalised tar stream (names relative to root)."""
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name, path in _sorted_tree(root):
            entry = _tarinfo_for(name, path, epoch)
            if entry.isreg():
                with path.open("rb") as handle:
                    tar.addfile(entry, handle)
            else:
                tar.addfile(entry)


def _clean_name(name: str) -> str:
    cleaned = PurePosixPath(name.removeprefix("./")).as_posix()
    if cleaned.startswith(("/", "../")) or "/../" in f"/{cleaned}/":
        raise LayerError(f"tar entry {name!r} escapes the root")
    return cleaned


def retar_base(source: Path, sink: BinaryIO, *, epoch: int) -> None:
    """Re-encode a rootfs tarball: sorted, clean names, fixed mtime, owners and modes kept."""
    with tarfile.open(source, mode="r:") as tar:
        members = [member for member in tar.getmembers() if _clean_name(member.name) != "."]
        names = {_clean_name(member.name) for member in members}
        for mount_point in _MOUNT_POINTS:
            # Runtimes mount /dev over an existing directory; mmdebstrap's output/dev skip drops it.
            if mount_point not in names:
                members.append(tarfile.TarInfo(mount_point))
                members[-1].type, members[-1].mode = tarfile.DIRTYPE, 0o755
        members.sort(key=lambda member: _clean_name(member.name))
        with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as out:
            for member in members:
                entry = tarfile.TarInfo(_clean_name(member.name))
                entry.type = member.type
                entry.mode = member.mode & 0o7777
                entry.uid, entry.gid = member.uid, member.gid
                entry.uname = entry.gname = ""
                entry.mtime = epoch
                entry.devmajor, entry.devminor = member.devmajor, member.devminor
                if member.islnk():
                    entry.linkname = _clean_name(member.linkname)
                elif member.issym():
                    entry.linkname = member.linkname
                if member.isreg():
                    entry.size = member.size
                    out.addfile(entry, tar.extractfile(member))
                else:
                    out.addfile(entry)


def compress_to_blob(tar_path: Path, blobs: Path) -> Layer:
    """gzip a tar into blobs/<sha256> and return its descriptor."""
    diff = hashlib.sha256()
    blobs.mkdir(parents=True, exist_ok=True)
    partial = blobs / f".partial-{os.getpid()}"
    with partial.open("wb") as raw:
        counter = _HashingWriter(raw)
        with (
            tar_path.open("rb") as source,
            gzip.GzipFile(
                filename="", mode="wb", fileobj=counter, mtime=0, compresslevel=_GZIP_LEVEL
            ) as compressed,
        ):
            while chunk := source.read(_CHUNK):
                diff.update(chunk)
                compressed.write(chunk)
    digest = counter.sha256.hexdigest()
    partial.replace(blobs / digest)
    return Layer(digest=f"sha256:{digest}", diff_id=f"sha256:{diff.hexdigest()}", size=counter.size)
