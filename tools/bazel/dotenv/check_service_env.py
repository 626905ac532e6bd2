"""Every service's committed overlays resolve against the committed service-hub groups."""

from __future__ import annotations

from pathlib import Path

import pytest

from stigmer_dotenv import LocalSecrets, load_groups, load_overlay, render_overlay, resolve

SERVICES = Path("backend/services")
HUB = Path("_ops/planton/service-hub")
# What each service reads (ARCHITECTURE section 8 and the services' env registries).
REQUIRED = {
    "agent-runner": {
        "STIGMER_BACKEND_ENDPOINT",
        "STIGMER_API_KEY",
        "TEMPORAL_HOST_PORT",
        "TEMPORAL_NAMESPACE",
        "TEMPORAL_AGENT_EXECUTION_TASK_QUEUE",
        "STIGMER_DATA_DIR",
        "SANDBOX_TYPE",
        "STIGMER_DEFAULT_MODEL",
        "LOG_LEVEL",
        "LOG_FORMAT",
    },
    "stigmer-server": {
        "STIGMER_SERVER_ADDRESS",
        "STIGMER_API_KEYS",
        "TEMPORAL_HOST_PORT",
        "TEMPORAL_NAMESPACE",
        "TEMPORAL_AGENT_EXECUTION_TASK_QUEUE",
        "EXECUTION_PERSISTENCE_TASK_QUEUE",
        "STIGMER_SESSION_POLICY",
        "STIGMER_DATA_DIR",
        "LOG_LEVEL",
        "LOG_FORMAT",
    },
}


def test_every_service_with_a_kustomize_tree_is_checked() -> None:
    found = {path.parent.name for path in SERVICES.glob("*/_kustomize")}
    assert found == set(REQUIRED)


@pytest.mark.parametrize("service", sorted(REQUIRED))
def test_the_local_overlay_resolves_with_generated_secrets(service: str, tmp_path: Path) -> None:
    declared = load_overlay(SERVICES / service / "_kustomize" / "overlays" / "local")
    values = resolve(declared, load_groups(HUB), LocalSecrets(tmp_path))
    assert declared.service == service
    assert REQUIRED[service] <= values.keys()
    assert all(values[name] for name in REQUIRED[service])


@pytest.mark.parametrize("service", sorted(REQUIRED))
def test_the_prod_overlay_refers_only_to_existing_entries(service: str) -> None:
    declared = load_overlay(SERVICES / service / "_kustomize" / "overlays" / "prod")
    values = resolve(declared, load_groups(HUB), None)
    assert REQUIRED[service] <= values.keys()
    assert values["LOG_FORMAT"] == "json"


def test_the_prod_runner_uses_daytona_with_its_key_and_url() -> None:
    declared = load_overlay(SERVICES / "agent-runner" / "_kustomize" / "overlays" / "prod")
    values = resolve(declared, load_groups(HUB), None)
    assert values["SANDBOX_TYPE"] == "daytona"
    assert values["DAYTONA_API_URL"].startswith("https://")
    assert declared.variables["DAYTONA_API_KEY"].section == "secrets"


def test_the_runner_gets_a_runner_key_of_the_server_not_its_admin_key(tmp_path: Path) -> None:
    groups, secrets = load_groups(HUB), LocalSecrets(tmp_path)
    runner = resolve(
        load_overlay(SERVICES / "agent-runner/_kustomize/overlays/local"), groups, secrets
    )
    server = resolve(
        load_overlay(SERVICES / "stigmer-server/_kustomize/overlays/local"), groups, secrets
    )
    assert runner["STIGMER_API_KEY"] in server["STIGMER_RUNNER_KEYS"].split(",")
    assert runner["STIGMER_API_KEY"] not in server["STIGMER_API_KEYS"].split(",")
    assert runner["STIGMER_BACKEND_ENDPOINT"] == server["STIGMER_SERVER_ADDRESS"]
    for service, entry in (
        ("agent-runner", "STIGMER_API_KEY"),
        ("stigmer-server", "STIGMER_RUNNER_KEYS"),
    ):
        prod = load_overlay(SERVICES / service / "_kustomize/overlays/prod")
        assert str(prod.variables[entry].value).endswith("/prod.runner-key"), service


def test_the_prod_server_seals_secrets_with_keys_from_the_secret_store() -> None:
    declared = load_overlay(SERVICES / "stigmer-server" / "_kustomize" / "overlays" / "prod")
    assert declared.variables["STIGMER_SECRETS_KEYS"].section == "secrets"


# Deployment manifests (issue 7): every overlay renders to one resource whose image is the
# name the CI pipeline pushes and whose secrets all come from secret references.
OVERLAYS = [(service, overlay) for service in sorted(REQUIRED) for overlay in ("local", "prod")]


@pytest.mark.parametrize(("service", "overlay"), OVERLAYS)
def test_each_overlay_renders_the_pipelines_image_and_referenced_secrets(
    service: str, overlay: str
) -> None:
    path = SERVICES / service / "_kustomize" / "overlays" / overlay
    doc = render_overlay(path)
    image = doc["spec"]["container"]["app"]["image"]
    # build_and_push_service.sh pushes <registry>/<service>:<tag>; our registries end in /stigmer.
    assert image["repo"].endswith(f"/stigmer/{service}"), image
    assert image["tag"], image
    env = doc["spec"]["container"]["app"]["env"]
    assert REQUIRED[service] <= set(env["variables"]) | set(env["secrets"])
    groups = load_groups(HUB)
    for name, value in env["secrets"].items():
        assert str(value).startswith("$secrets-group/"), (service, overlay, name, value)
        group, _, entry = str(value).removeprefix("$secrets-group/").partition("/")
        assert entry in groups["secrets-group"][group].entries, (service, overlay, name)
    for name, value in env["variables"].items():
        assert not str(value).startswith("$secrets-group/"), (service, overlay, name)
        # Keys and database URLs (which carry passwords) are secrets, never plain variables.
        assert not name.endswith(("_API_KEY", "_API_KEYS", "_DB_URL")), (service, overlay, name)
