"""The stubs Bazel generates from apis/ equal the committed apis/stubs/python package.

Run by `bazel test //tools/bazel/checks:stubs_equal_test` in the runfiles tree, where the
generated modules sit under apis/ai and the committed ones under apis/stubs/python/ai.
"""

from __future__ import annotations

from pathlib import Path

GENERATED = Path("apis/ai")
COMMITTED = Path("apis/stubs/python/ai")
PATTERNS = ("*_pb2.py", "*_pb2.pyi", "*_pb2_grpc.py", "*_pb2_grpc.pyi")


def stub_files(root: Path) -> dict[str, bytes]:
    files = {}
    for pattern in PATTERNS:
        for path in root.rglob(pattern):
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def test_bazel_generates_every_committed_stub_and_no_other() -> None:
    generated, committed = stub_files(GENERATED), stub_files(COMMITTED)
    assert committed, f"no committed stubs found under {COMMITTED}"
    missing = sorted(committed.keys() - generated.keys())
    extra = sorted(generated.keys() - committed.keys())
    assert not missing, f"Bazel does not generate {missing}: run `make protos` and commit"
    assert not extra, f"Bazel generates {extra}, which are not committed: run `make protos`"


def test_generated_stubs_are_byte_identical_to_the_committed_ones() -> None:
    generated, committed = stub_files(GENERATED), stub_files(COMMITTED)
    different = sorted(
        name for name in committed.keys() & generated.keys() if committed[name] != generated[name]
    )
    assert not different, (
        f"Bazel's stubs differ from apis/stubs/python in {different}: "
        "run `make protos` and commit the result"
    )
