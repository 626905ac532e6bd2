"""Runs mypy --strict inside `bazel test` over the files given, with the repo's mypy config.

The import roots of the target's dependencies (each py_library's `imports`, which Bazel
puts on sys.path) become MYPYPATH, so mypy sees exactly the sources and generated stubs the
target depends on, and the third-party packages of the hermetic environment.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import mypy.api


def import_roots(workspace: Path) -> list[str]:
    """sys.path entries inside the workspace's runfiles, except the workspace root itself."""
    roots = []
    workspace = workspace.resolve()
    for entry in sys.path:
        path = Path(entry).resolve()
        if path != workspace and path.is_relative_to(workspace) and path.is_dir():
            roots.append(str(path))
    return roots


def cache_dir(workspace: Path) -> Path:
    """mypy's incremental cache for this target, kept between runs when it can be.

    Checking the typed third-party packages (temporalio, langchain, pydantic) from scratch
    costs most of a run. The targets are tagged `no-sandbox`, so the checkout's
    .mypy_cache/bazel/<target> is writable and survives; mypy validates every cached module
    against its source hash, so a stale entry is rebuilt, never trusted. In a sandbox (or a
    read-only checkout) the cache starts empty in TEST_TMPDIR.
    """
    target = os.environ.get("TEST_TARGET", "mypy").lstrip("/").replace(":", "/")
    checkout = (workspace / "pyproject.toml").resolve().parent
    kept = checkout / ".mypy_cache" / "bazel" / target
    try:
        kept.mkdir(parents=True, exist_ok=True)
        probe = kept / ".writable"
        probe.touch()
        probe.unlink()
    except OSError:
        return Path(os.environ.get("TEST_TMPDIR", "/tmp")) / "mypy_cache"
    return kept


def main(files: list[str]) -> int:
    if not files:
        print("usage: mypy_runner.py FILE...", file=sys.stderr)
        return 2
    workspace = Path.cwd()
    os.environ["MYPYPATH"] = os.pathsep.join(import_roots(workspace))
    cache = cache_dir(workspace)
    stdout, stderr, code = mypy.api.run(
        ["--config-file", "pyproject.toml", "--strict", "--cache-dir", str(cache), *files]
    )
    sys.stdout.write(stdout)
    sys.stderr.write(stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
