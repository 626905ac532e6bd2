"""Test macros for the Python packages: pytest suites and mypy --strict checks."""

_PYTEST_RUNNER = "//tools/bazel:pytest_runner.py"
_MYPY_RUNNER = "//tools/bazel:mypy_runner.py"

def _workspace_paths(paths):
    package = native.package_name()
    return [(package + "/" + p) if package else p for p in paths]

def py_pytest(name, srcs, paths = ["tests"], marker = "not integration", deps = [], data = [], tags = [], **kwargs):
    """pytest over `paths` (directories or files of this package), selecting `marker`.

    The default marker selects the unit tests, which run with sockets disabled (the
    stigmer_testing plugin). Nothing is declared when `srcs` is empty, so a package's glob
    may match no test yet.
    """
    if not srcs:
        return
    native.py_test(
        name = name,
        srcs = [_PYTEST_RUNNER] + srcs,
        main = _PYTEST_RUNNER,
        # Bazel splits `args` like a shell: quote the marker expression.
        args = ["'%s'" % marker] + _workspace_paths(paths),
        data = ["//:pyproject.toml"] + data,
        deps = ["//backend/libs/python/testing"] + deps,
        tags = tags,
        python_version = "PY3",
        **kwargs
    )

def py_integration_test(name, srcs, tags = [], **kwargs):
    """The `integration`-marked tests of a package (real Temporal, servers, sandboxes).

    Tagged `integration`: `bazel test //...` skips them (.bazelrc) unless
    `--config=integration` selects them; `make test` runs them through pytest.
    """
    py_pytest(
        name = name,
        srcs = srcs,
        marker = "integration",
        tags = tags + ["integration"],
        **kwargs
    )

def py_mypy_test(name, srcs = [], generated = [], deps = [], data = [], **kwargs):
    """mypy --strict over `srcs` and the files of the `generated` targets.

    mypy sees the sources and generated stubs of `deps` through their import roots.
    """
    if not srcs and not generated:
        return
    native.py_test(
        name = name,
        srcs = [_MYPY_RUNNER],
        main = _MYPY_RUNNER,
        args = _workspace_paths(srcs) + ["$(rootpaths %s)" % g for g in generated],
        data = ["//:pyproject.toml"] + srcs + generated + data,
        deps = deps,
        tags = ["mypy"],
        python_version = "PY3",
        **kwargs
    )
