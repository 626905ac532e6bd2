"""The .env resolver on small, self-made config trees: merging, references, secrets, errors."""

from __future__ import annotations

import stat
import textwrap
from pathlib import Path

import dotenv
import pytest

from stigmer_dotenv import (
    EnvConfigError,
    LocalSecrets,
    load_groups,
    load_overlay,
    render_dotenv,
    resolve,
)

HEADER = "apiVersion: service-hub.planton.cloud/v1\n"
SERVICE = "apiVersion: kubernetes.planton.cloud/v1\nkind: MicroserviceKubernetes\n"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    hub = tmp_path / "hub"
    write(
        hub / "variables-group" / "stigmer-api.yaml",
        HEADER + "kind: VariablesGroup\nmetadata: {name: stigmer-api}\n"
        "spec:\n  entries:\n    - {name: local.endpoint, value: '127.0.0.1:50051'}\n"
        "    - {name: local.port, value: 7233}\n",
    )
    write(
        hub / "secrets-group" / "stigmer-api.yaml",
        HEADER + "kind: SecretsGroup\nmetadata: {name: stigmer-api}\nspec:\n  entries:\n"
        "    - {name: local.api-key}\n    - {name: local.token}\n",
    )
    svc = tmp_path / "svc" / "_kustomize"
    write(svc / "base" / "kustomization.yaml", "resources: [service.yaml]\n")
    write(
        svc / "base" / "service.yaml",
        SERVICE + "metadata: {name: svc}\nspec:\n  container:\n    app:\n      env:\n"
        "        variables: {LOG_LEVEL: INFO, QUEUE: execution, DROPPED: x}\n",
    )
    write(
        svc / "overlays" / "local" / "kustomization.yaml",
        "resources: [../../base]\npatches:\n  - path: service.yaml\n",
    )
    write(
        svc / "overlays" / "local" / "service.yaml",
        SERVICE + "metadata: {name: svc}\nspec:\n  container:\n    app:\n      env:\n"
        "        variables:\n          LOG_LEVEL: DEBUG\n          DROPPED: null\n"
        "          ENDPOINT: $variables-group/stigmer-api/local.endpoint\n"
        "          PORT: $variables-group/stigmer-api/local.port\n"
        "        secrets:\n          API_KEY: $secrets-group/stigmer-api/local.api-key\n"
        "          TOKEN: $secrets-group/stigmer-api/local.token\n",
    )
    return tmp_path


def overlay(tree: Path) -> Path:
    return tree / "svc" / "_kustomize" / "overlays" / "local"


def test_the_overlay_patches_the_base_and_references_resolve(tree: Path) -> None:
    declared = load_overlay(overlay(tree))
    values = resolve(declared, load_groups(tree / "hub"), LocalSecrets(tree / "home"))
    assert values["LOG_LEVEL"] == "DEBUG"
    assert values["QUEUE"] == "execution"
    assert "DROPPED" not in values
    assert values["ENDPOINT"] == "127.0.0.1:50051"
    assert values["PORT"] == "7233"
    assert declared.variables["LOG_LEVEL"].source == overlay(tree) / "service.yaml"
    assert declared.variables["QUEUE"].source.parent.name == "base"


def test_local_secrets_are_generated_once_private_and_shared(tree: Path) -> None:
    groups, home = load_groups(tree / "hub"), tree / "home"
    first = resolve(load_overlay(overlay(tree)), groups, LocalSecrets(home))
    second = resolve(load_overlay(overlay(tree)), groups, LocalSecrets(home))
    assert first["API_KEY"].startswith("stk_local_")
    assert first["API_KEY"] == second["API_KEY"]
    assert first["TOKEN"] == second["TOKEN"] != first["API_KEY"]
    key_file = home / "api-key"
    assert key_file.read_text().strip() == first["API_KEY"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_the_key_file_of_local_mode_is_used_as_it_is(tree: Path) -> None:
    home = tree / "home"
    home.mkdir()
    (home / "api-key").write_text("stk_local_from_stigmer_local_up\n")
    (home / "api-key").chmod(0o600)
    values = resolve(load_overlay(overlay(tree)), load_groups(tree / "hub"), LocalSecrets(home))
    assert values["API_KEY"] == "stk_local_from_stigmer_local_up"


def test_a_key_file_others_can_read_is_refused(tree: Path) -> None:
    home = tree / "home"
    home.mkdir()
    (home / "api-key").write_text("stk_local_x\n")
    (home / "api-key").chmod(0o644)
    with pytest.raises(EnvConfigError, match="chmod 600"):
        resolve(load_overlay(overlay(tree)), load_groups(tree / "hub"), LocalSecrets(home))


def test_a_missing_entry_names_the_file_the_variable_and_the_entry(tree: Path) -> None:
    patch = overlay(tree) / "service.yaml"
    patch.write_text(patch.read_text().replace("local.endpoint", "local.endpoit"))
    with pytest.raises(EnvConfigError) as raised:
        resolve(load_overlay(overlay(tree)), load_groups(tree / "hub"), LocalSecrets(tree / "h"))
    message = str(raised.value)
    assert str(patch) in message
    assert "ENDPOINT" in message
    assert "has no entry 'local.endpoit'" in message
    assert not (tree / "h").exists(), "nothing is written when resolution fails"


def test_a_missing_group_and_a_malformed_reference_are_reported_together(tree: Path) -> None:
    patch = overlay(tree) / "service.yaml"
    text = patch.read_text().replace(
        "$variables-group/stigmer-api/local.port", "$variables-group/nope/x"
    )
    patch.write_text(text.replace("LOG_LEVEL: DEBUG", "LOG_LEVEL: $variables-group/stigmer-api"))
    with pytest.raises(EnvConfigError) as raised:
        resolve(load_overlay(overlay(tree)), load_groups(tree / "hub"), None)
    message = str(raised.value)
    assert "PORT: $variables-group/nope/x: no variables-group named 'nope'" in message
    assert "LOG_LEVEL: '$variables-group/stigmer-api' is not a reference" in message


def test_a_committed_secret_value_is_refused(tree: Path) -> None:
    secrets = tree / "hub" / "secrets-group" / "stigmer-api.yaml"
    secrets.write_text(
        secrets.read_text().replace("{name: local.token}", "{name: local.token, value: hunter2}")
    )
    with pytest.raises(EnvConfigError, match=r"secret entry 'local\.token' holds a value"):
        load_groups(tree / "hub")


def test_prod_resolution_checks_secret_names_without_values(tree: Path) -> None:
    values = resolve(load_overlay(overlay(tree)), load_groups(tree / "hub"), None)
    assert values["API_KEY"] == ""
    assert values["ENDPOINT"] == "127.0.0.1:50051"


def test_the_rendered_file_reads_back_with_python_dotenv(tmp_path: Path) -> None:
    values = {"A": "x y", "B": "$NOT_EXPANDED", "C": "a=b#c"}
    path = tmp_path / ".env"
    path.write_text(render_dotenv(values, "a test"))
    assert dotenv.dotenv_values(path) == values
