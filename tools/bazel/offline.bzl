"""The in-repo stand-ins Debian's Bazel 4.2.3 needs to work without GitHub."""

def _is_bazel_4():
    # Debian's bootstrap build reports an empty version; release builds say "4.x.y".
    version = native.bazel_version
    return version == "" or version.startswith("4.")

def offline_standins():
    """Declares @rules_cc, @rules_java and @remote_coverage_tools from third_party/bazel.

    Only for Bazel 4: newer Bazel ships or fetches the real repositories. Relative paths
    resolve from the workspace root, so a checkout works wherever it lives.
    """
    if not _is_bazel_4():
        return
    for name in ["rules_cc", "rules_java", "remote_coverage_tools"]:
        native.local_repository(
            name = name,
            path = "third_party/bazel/" + name,
        )
