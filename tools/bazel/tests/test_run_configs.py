"""The IDE run configurations in .run/ name Bazel targets that exist and commands that run.

Bazel configurations (BlazeCommandRunConfigurationType) name targets: `bazel query` must
find each with the declared kind. Shell configurations run `make <target>` or a script of
the repository: the make target must be in the Makefile, the script must be executable.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
RUN_DIR = ROOT / ".run"
BAZEL_TYPE = "BlazeCommandRunConfigurationType"
SHELL_TYPE = "ShConfigurationType"
BAZEL_COMMANDS = {"build", "run", "test"}


@dataclass(frozen=True)
class RunConfig:
    file: str
    name: str
    type: str
    bazel_command: str = ""
    bazel_kind: str = ""
    targets: tuple[str, ...] = ()
    script: str = ""


def load(path: Path) -> RunConfig:
    root = ET.parse(path).getroot()  # noqa: S314 - our own committed files
    config = root.find("configuration")
    assert root.tag == "component", f"{path.name}: root must be <component>"
    assert config is not None, f"{path.name}: no <configuration>"
    name, kind = config.get("name", ""), config.get("type", "")
    if kind == BAZEL_TYPE:
        settings = config.find("blaze-settings")
        assert settings is not None, f"{path.name}: no <blaze-settings>"
        targets = tuple((t.text or "").strip() for t in settings.findall("blaze-target"))
        return RunConfig(
            path.name,
            name,
            kind,
            bazel_command=settings.get("blaze-command", ""),
            bazel_kind=settings.get("kind", ""),
            targets=targets,
        )
    options = {o.get("name"): o.get("value", "") for o in config.findall("option")}
    script = options.get("SCRIPT_TEXT", "")
    if options.get("EXECUTE_SCRIPT_FILE") == "true":
        script = options.get("SCRIPT_PATH", "")
    return RunConfig(path.name, name, kind, script=script)


def configs() -> list[RunConfig]:
    return [load(path) for path in sorted(RUN_DIR.glob("*.xml"))]


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9_.-]+):", text, flags=re.MULTILINE))


def test_every_file_is_a_bazel_or_shell_configuration_with_something_to_run() -> None:
    found = configs()
    assert found, f"no run configurations in {RUN_DIR}"
    for config in found:
        assert config.name, f"{config.file}: configuration without a name"
        assert config.type in {BAZEL_TYPE, SHELL_TYPE}, f"{config.file}: type {config.type!r}"
        if config.type == BAZEL_TYPE:
            assert config.bazel_command in BAZEL_COMMANDS, f"{config.file}: command"
            assert config.targets, f"{config.file}: no <blaze-target>"
        else:
            assert config.script.strip(), f"{config.file}: no SCRIPT_TEXT or SCRIPT_PATH"


def test_the_services_the_cli_dotenv_and_all_tests_have_a_configuration() -> None:
    targets = {t for c in configs() for t in c.targets}
    scripts = {c.script for c in configs()}
    for wanted in (
        "//backend/services/agent-runner:agent_runner",
        "//backend/services/agent-runner:dot_env_local",
        "//backend/services/stigmer-server:stigmer_server",
        "//backend/services/stigmer-server:dot_env_local",
        "//client-apps/cli:stigmer",
        "//...",
    ):
        assert wanted in targets, f"no .run configuration runs {wanted}"
    assert "make test" in scripts


def test_every_shell_command_is_a_make_target_or_an_executable_script() -> None:
    known = make_targets()
    for config in configs():
        if config.type != SHELL_TYPE:
            continue
        words = shlex.split(config.script)
        if words[0] == "make":
            missing = [word for word in words[1:] if not word.startswith("-") and word not in known]
            assert not missing, f"{config.file}: make has no target {missing}"
        else:
            script = ROOT / words[0]
            assert script.is_file(), f"{config.file}: {words[0]} is not a file of the repository"
            assert os.access(script, os.X_OK), f"{config.file}: {words[0]} is not executable"


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_every_bazel_target_exists_with_the_declared_kind() -> None:
    bazel = shutil.which("bazel")
    if bazel is None:
        pytest.fail("bazel is not installed: run `make setup`")
    wanted = {t: c for c in configs() if c.type == BAZEL_TYPE for t in c.targets}
    query = "set(" + " ".join(sorted(wanted)) + ")"
    result = subprocess.run(
        [bazel, "query", "--output=label_kind", query],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert result.returncode == 0, f"bazel query {query} failed:\n{result.stderr[-3000:]}"
    kinds = {}
    for line in result.stdout.splitlines():
        kind, _, label = line.rpartition(" ")
        kinds[label] = kind.removesuffix(" rule")
    assert kinds, "bazel query found no target"
    for target, config in wanted.items():
        if target.endswith("..."):
            continue  # a pattern: the query above fails when it matches nothing
        assert target in kinds, f"{config.file}: {target} is not a Bazel target"
        if config.bazel_kind:
            assert kinds[target] == config.bazel_kind, (
                f"{config.file}: {target} is a {kinds[target]}, not a {config.bazel_kind}"
            )
