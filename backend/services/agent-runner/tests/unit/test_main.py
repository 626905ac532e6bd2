from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent_runner.main import SERVICE_DIR, load_env_files, main


def test_service_dir_is_where_main_py_lives() -> None:
    assert (SERVICE_DIR / "main.py").is_file()
    assert (SERVICE_DIR / "pyproject.toml").is_file()


def test_env_files_load_cwd_first_and_never_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd, service = tmp_path / "cwd", tmp_path / "service"
    cwd.mkdir()
    service.mkdir()
    (cwd / ".env").write_text("RUNNER_T_A=from-cwd\nRUNNER_T_C=from-cwd\n")
    (service / ".env").write_text("RUNNER_T_A=from-service\nRUNNER_T_B=from-service\n")
    monkeypatch.setenv("RUNNER_T_C", "from-shell")
    for name in ("RUNNER_T_A", "RUNNER_T_B"):
        monkeypatch.delenv(name, raising=False)
    load_env_files([cwd, service])
    assert os.environ["RUNNER_T_A"] == "from-cwd"
    assert os.environ["RUNNER_T_B"] == "from-service"
    assert os.environ["RUNNER_T_C"] == "from-shell"
    for name in ("RUNNER_T_A", "RUNNER_T_B"):
        monkeypatch.delenv(name)


def test_missing_configuration_exits_2_naming_the_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("STIGMER_", "TEMPORAL_")):
            monkeypatch.delenv(name)
    monkeypatch.setattr("agent_runner.main.SERVICE_DIR", tmp_path)
    with pytest.raises(SystemExit) as caught:
        main([])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "STIGMER_BACKEND_ENDPOINT is required" in err
    assert "STIGMER_API_KEY is required" in err


def test_check_needs_no_configuration_and_names_the_versions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["--check"])
    out = capsys.readouterr().out
    assert out.startswith("agent-runner 0.1.0, python 3.")
    assert "deepagents 0.7.32" in out
    assert "temporalio " in out
    assert "daytona 0." in out
