"""Runs pytest inside `bazel test`, with the repository's pytest configuration.

Bazel starts this in the runfiles tree of the workspace; the arguments are the marker
expression and the test files. Bazel's hermetic environment does not install the workspace
packages, so the stigmer_testing plugin (a pytest11 entry point under uv) is named here.
"""

from __future__ import annotations

import os
import sys

import pytest

NO_TESTS_COLLECTED = 5


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: pytest_runner.py MARKER_EXPRESSION TEST_FILE...", file=sys.stderr)
        return 2
    marker, *paths = argv
    args = [
        "-c",
        "pyproject.toml",
        "--rootdir",
        ".",
        "-p",
        "stigmer_testing.plugin",
        # The runfiles tree is read-only: no .pytest_cache.
        "-p",
        "no:cacheprovider",
        "-m",
        marker,
    ]
    xml = os.environ.get("XML_OUTPUT_FILE")
    if xml:
        args.append("--junitxml=" + xml)
    only = os.environ.get("TESTBRIDGE_TEST_ONLY")  # bazel test --test_filter=...
    if only:
        args += ["-k", only]
    code = pytest.main(args + paths)
    if code == NO_TESTS_COLLECTED:
        # A package's files may hold only tests of the other kind (unit vs integration).
        print(f"pytest_runner: no test in {paths} matches -m {marker!r}")
        return 0
    return int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
