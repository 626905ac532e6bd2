"""Service images as Bazel targets: `:image` (an OCI layout) and `:image_tarball` (docker-archive).

Both call the stdlib-only builder in //tools/oci (python3 -m stigmer_oci). The action is
local and unsandboxed: mmdebstrap and bubblewrap need the host (root or user namespaces),
uv and mmdebstrap need the network on a cold cache, and the Debian base is cached under
<workspace>/.cache/oci across builds. The declared inputs (the service's sources with
their workspace libraries and stubs, uv.lock, the pyproject files, the builder itself)
decide when Bazel re-runs it; the builder reads the workspace the builder lives in.

The revision label comes from `--define=STIGMER_IMAGE_REVISION=<sha>` (the CI script passes
git HEAD); without it the label says `unknown`, so a developer build never depends on git.
"""

_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_EXECUTION = {
    "local": "1",
    "no-remote": "1",
    "no-sandbox": "1",
    "requires-network": "1",
}

def _image_impl(ctx):
    layout = ctx.actions.declare_directory(ctx.label.name)
    revision = ctx.var.get("STIGMER_IMAGE_REVISION", "unknown")
    main = ctx.file._main
    inputs = depset(
        ctx.files._tool + ctx.files.srcs,
        transitive = [dep[DefaultInfo].default_runfiles.files for dep in ctx.attr.deps] +
                     [dep[DefaultInfo].files for dep in ctx.attr.deps],
    )
    ctx.actions.run_shell(
        inputs = inputs,
        outputs = [layout],
        command = """
set -eu
export PATH={path}
# uv reaches PyPI through whatever CA the host trusts (a proxy's included); the strict action
# env drops SSL_CERT_FILE unless --action_env passes it, so fall back to the system bundle.
if [ -z "${{SSL_CERT_FILE:-}}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    export SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
fi
# The builder resolves its own path to find the workspace (execroot entries are symlinks).
tool_dir="$(dirname "$(dirname "$(readlink -f "{main}")")")"
out="$PWD/{out}"
PYTHONPATH="$tool_dir" python3 -m stigmer_oci "{service}" --out "$out" \\
    --tag latest --revision "{revision}" >/dev/null
""".format(
            path = _PATH,
            main = main.path,
            out = layout.path,
            service = ctx.attr.service,
            revision = revision,
        ),
        execution_requirements = _EXECUTION,
        # --action_env values (SSL_CERT_FILE, HTTPS_PROXY, UV_INDEX_URL) reach the builder.
        use_default_shell_env = True,
        mnemonic = "OciImage",
        progress_message = "Building the OCI image of %s (Debian base cached in .cache/oci)" % ctx.attr.service,
    )
    return [DefaultInfo(files = depset([layout]))]

oci_service_image = rule(
    implementation = _image_impl,
    doc = "An OCI image layout (tag `latest`) of a service under backend/services.",
    attrs = {
        "service": attr.string(mandatory = True, doc = "the directory name under backend/services"),
        "deps": attr.label_list(doc = "the service's py_library: its sources and those it imports"),
        "srcs": attr.label_list(allow_files = True, doc = "more inputs: uv.lock, pyproject files"),
        "_tool": attr.label(default = "//tools/oci:builder"),
        "_main": attr.label(default = "//tools/oci:stigmer_oci/__main__.py", allow_single_file = True),
    },
)

def _tarball_impl(ctx):
    tarball = ctx.actions.declare_file(ctx.label.name + ".tar")
    layout = ctx.file.image
    ctx.actions.run_shell(
        inputs = [layout],
        outputs = [tarball],
        command = """
set -eu
export PATH={path}
rm -f "{out}"
skopeo copy --quiet "oci:{layout}:latest" "docker-archive:{out}:{name}:latest"
""".format(path = _PATH, layout = layout.path, out = tarball.path, name = ctx.attr.repository),
        execution_requirements = {"local": "1", "no-remote": "1"},
        mnemonic = "OciTarball",
        progress_message = "Writing the docker-archive tarball of %s" % ctx.attr.repository,
    )
    return [DefaultInfo(files = depset([tarball]))]

oci_tarball = rule(
    implementation = _tarball_impl,
    doc = "A docker-archive tarball (`docker load -i`) of an oci_service_image.",
    attrs = {
        "image": attr.label(mandatory = True, allow_single_file = True),
        "repository": attr.string(mandatory = True, doc = "the name `docker load` gives the image"),
    },
)

def service_image(service, deps, name = "image", visibility = None):
    """`:image` and `:image_tarball`, declared in the BUILD.bazel of backend/services/<service>.

    deps: the service's py_library (its runfiles bring the libraries and stubs it imports).
    """
    # manual: `bazel build //...` and `bazel test //...` leave images alone (they need
    # mmdebstrap, root or user namespaces, the network); name the targets to build them.
    oci_service_image(
        name = name,
        service = service,
        deps = deps,
        tags = ["manual"],
        # uv.lock records every workspace member's version and dependencies; the service's
        # pyproject adds its entrypoint. (The libraries' pyproject files are not exported.)
        srcs = ["//:uv.lock", "pyproject.toml"],
        visibility = visibility,
    )
    oci_tarball(
        name = name + "_tarball",
        image = ":" + name,
        repository = service,
        tags = ["manual"],
        visibility = visibility,
    )
