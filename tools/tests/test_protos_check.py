"""`tools/protos.sh check` compares only generated stubs with a fresh generation.

The script runs from a scratch copy of the repository's protos, stubs and buf configuration
(buf and the plugins come from the real checkout), so each case can dirty the stubs without
touching the real tree.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
STUBS = Path("apis/stubs/python/ai")
# A stub every generation writes; the cases below disturb it.
SAMPLE = STUBS / "stigmer/agentic/agentexecution/v1/io_pb2.py"


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    buf = REPO_ROOT / "tools/buf/node_modules/.bin/buf"
    if not buf.exists():
        pytest.fail("buf is missing: run 'make setup'")
    root = tmp_path / "repo"
    (root / "tools/buf").mkdir(parents=True)
    shutil.copy2(REPO_ROOT / "tools/protos.sh", root / "tools/protos.sh")
    shutil.copytree(REPO_ROOT / "tools/protoc", root / "tools/protoc")
    (root / "tools/buf/node_modules").symlink_to(REPO_ROOT / "tools/buf/node_modules")
    (root / ".venv").symlink_to(REPO_ROOT / ".venv")
    for name in ("buf.yaml", "buf.gen.yaml"):
        shutil.copy2(REPO_ROOT / name, root / name)
    shutil.copytree(
        REPO_ROOT / "apis", root / "apis", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    # The console's TypeScript stubs are generated and checked by the same script.
    console = root / "client-apps/console"
    console.mkdir(parents=True)
    shutil.copy2(REPO_ROOT / "client-apps/console/buf.gen.yaml", console / "buf.gen.yaml")
    shutil.copytree(REPO_ROOT / "client-apps/console/src/gen", console / "src/gen")
    (console / "node_modules").symlink_to(REPO_ROOT / "client-apps/console/node_modules")
    return root


def check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(root / "tools/protos.sh"), "check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_fresh_stubs_pass_even_with_the_bytecode_caches_running_python_leaves(
    scratch: Path,
) -> None:
    # What `make run` leaves behind: a __pycache__ folder beside every imported stub.
    cache = scratch / SAMPLE.parent / "__pycache__"
    cache.mkdir()
    (cache / "io_pb2.cpython-311.pyc").write_bytes(b"\x00bytecode")
    (scratch / STUBS / "__pycache__").mkdir()
    result = check(scratch)
    assert result.returncode == 0, result.stderr
    assert "stubs are fresh" in result.stdout


def test_an_edited_stub_is_stale(scratch: Path) -> None:
    with (scratch / SAMPLE).open("a") as stub:
        stub.write("# edited by hand\n")
    result = check(scratch)
    assert result.returncode == 1
    assert f"differs: {SAMPLE.relative_to(STUBS)}" in result.stderr
    assert "make protos" in result.stderr


def test_a_missing_stub_and_one_left_over_from_a_deleted_proto_are_stale(scratch: Path) -> None:
    (scratch / SAMPLE).unlink()
    left_over = STUBS / "stigmer/agentic/agentexecution/v1/gone_pb2.py"
    (scratch / left_over).write_text("# from a proto that no longer exists\n")
    result = check(scratch)
    assert result.returncode == 1
    assert f"missing: {SAMPLE.relative_to(STUBS)}" in result.stderr
    assert f"not generated from any proto: {left_over.relative_to(STUBS)}" in result.stderr
