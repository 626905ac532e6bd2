"""build_and_push_service.sh refuses bad input early and clearly, before building anything.

The script runs from a copy placed in a scratch repository, so its services, Makefiles and
tools can be arranged per test (a failing type check, a missing skopeo) without touching
the real tree. No registry is contacted: every case stops before the push, or is a dry run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
SCRIPT = REPO_ROOT / "tools" / "ci" / "build_and_push_service.sh"
# What the script itself calls before it reaches the builder (coreutils and friends).
_BASE_TOOLS = (
    "bash", "sh", "env", "git", "ls", "paste", "grep", "sed", "date", "mktemp", "rm", "cat",
    "base64", "make", "python3", "dirname", "printf", "tr", "bwrap", "mmdebstrap",
)  # fmt: skip


def _scratch_repo(root: Path, makefile: str | None) -> Path:
    (root / "tools" / "ci").mkdir(parents=True)
    shutil.copy2(SCRIPT, root / "tools" / "ci" / SCRIPT.name)
    service = root / "backend" / "services" / "demo"
    service.mkdir(parents=True)
    (service / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1.0"\n')
    if makefile is not None:
        (service / "Makefile").write_text(makefile)
    return root / "tools" / "ci" / SCRIPT.name


def _path_without(root: Path, missing: str) -> str:
    """A PATH holding the script's tools and skopeo, except the one named missing."""
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for tool in (*_BASE_TOOLS, "skopeo"):
        found = shutil.which(tool)
        if tool != missing and found is not None:
            (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def _run(script: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STIGMER_REGISTRY")}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        ["bash", str(script), *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_unknown_service_lists_the_known_ones() -> None:
    result = _run(SCRIPT, "no-such-service", "--registry", "r.example.com/x")

    assert result.returncode == 1
    assert "unknown service 'no-such-service': expected one of: agent-runner" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["agent-runner"], "no registry: pass --registry HOST[:PORT]/PREFIX"),
        (["agent-runner", "--registry", "not a host"], "is not HOST[:PORT]/PREFIX"),
        (["agent-runner", "--registry", "r.io/x", "--tag", "a b"], "is not a valid image tag"),
        (["agent-runner", "--registry", "r.io/x", "--builder", "docker"], "expected auto, bazel"),
        (["agent-runner", "--registry", "r.io/x", "--push-it"], "unknown option '--push-it'"),
    ],
)
def test_bad_arguments_name_what_is_expected(args: list[str], message: str) -> None:
    result = _run(SCRIPT, *args)

    assert result.returncode == 1
    assert message in result.stderr


def test_missing_tool_is_named(tmp_path: Path) -> None:
    script = _scratch_repo(tmp_path, makefile=None)

    result = _run(
        script, "demo", "--registry", "r.io/x", "--tag", "t", path=_path_without(tmp_path, "skopeo")
    )

    assert result.returncode == 1
    assert "missing tool: skopeo" in result.stderr


def test_failed_type_check_stops_before_the_build(tmp_path: Path) -> None:
    makefile = "build:\n\t@echo 'demo.py:1: error: Incompatible types' >&2; exit 1\n"
    script = _scratch_repo(tmp_path, makefile=makefile)

    result = _run(script, "demo", "--registry", "r.io/x", "--tag", "t")

    assert result.returncode == 1
    assert "demo.py:1: error: Incompatible types" in result.stderr
    assert "type check failed: 'make build' in backend/services/demo" in result.stderr
    assert "==> image" not in result.stderr


def test_dry_run_prints_every_step_and_keeps_the_password_out(tmp_path: Path) -> None:
    script = _scratch_repo(tmp_path, makefile="build:\n\texit 1\n")
    env_password = "never-print-me"
    result = subprocess.run(
        [
            *("bash", str(script), "demo", "--registry", "reg.example.com:5000/team"),
            *("--tag", "v1", "--dry-run", "--insecure"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "STIGMER_REGISTRY_USERNAME": "ci",
            "STIGMER_REGISTRY_PASSWORD": env_password,
        },
    )

    assert result.returncode == 0, result.stderr
    assert "+ make --no-print-directory -C" in result.stderr
    assert "+ env PYTHONPATH=" in result.stderr
    assert "+ skopeo copy --quiet --preserve-digests" in result.stderr
    assert "--dest-tls-verify=false" in result.stderr
    assert "--dest-authfile" in result.stderr
    assert "docker://reg.example.com:5000/team/demo:v1" in result.stderr
    assert result.stdout.strip().startswith("reg.example.com:5000/team/demo:v1@")
    assert env_password not in result.stdout + result.stderr
