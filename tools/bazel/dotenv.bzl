"""`bazel run //<service>:dot_env_<overlay>`: resolves the service's env into its .env."""

def dot_env(name, overlay, kustomize = ":kustomize"):
    """A py_binary writing <checkout>/<package>/.env from _kustomize/overlays/<overlay>."""
    main = "//tools/bazel/dotenv:stigmer_dotenv/__main__.py"
    native.py_binary(
        name = name,
        srcs = [main],
        main = main,
        args = [
            "--package",
            native.package_name(),
            "--overlay",
            overlay,
        ],
        data = [
            kustomize,
            "//_ops/planton/service-hub:groups",
        ],
        python_version = "PY3",
        deps = ["//tools/bazel/dotenv:stigmer_dotenv"],
    )
