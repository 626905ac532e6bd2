"""The CI pipeline against a real registry: build, push, verify the digest, run the image.

The registry is Debian's docker-registry with TLS and htpasswd auth. Its certificate is
self-signed for 127.0.0.1 and handed to the pipeline as a private CA, so skopeo verifies
TLS as it does against a real registry; the password file holds a bcrypt entry (the only
format the registry accepts), made by `htpasswd -B`. The pushed image is pulled back,
unpacked with umoci and run as its own user. This is the slowest test of the repository
(a minute with a warm base cache, three to four on a fresh machine); it prints its cost.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]

REPO_ROOT = Path(__file__).resolve().parents[3]
SCRIPT = REPO_ROOT / "tools" / "ci" / "build_and_push_service.sh"
_READY_TIMEOUT = 20.0


@dataclass(frozen=True)
class Registry:
    address: str  # 127.0.0.1:PORT
    ca_dir: Path  # holds ca.crt, for skopeo --cert-dir / STIGMER_REGISTRY_CERT_DIR
    username: str
    password: str
    pid: int


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _certificate(directory: Path) -> tuple[Path, Path]:
    key, cert = directory / "registry.key", directory / "ca.crt"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-nodes", "-days", "1"),
            *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-keyout", str(key), "-out", str(cert)),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        capture_output=True,
        check=True,
    )
    return key, cert


def _wait_ready(process: subprocess.Popen[bytes], address: str, cert: Path, log: Path) -> None:
    """Ready when /v2/ answers 401: TLS is up and auth is enforced."""
    context = ssl.create_default_context(cafile=str(cert))
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited {process.returncode}: {log.read_text()}")
        try:
            urllib.request.urlopen(f"https://{address}/v2/", context=context, timeout=2)
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                return
            raise
        except OSError:
            time.sleep(0.1)
            continue
        raise RuntimeError("the registry answered /v2/ without asking for credentials")
    raise TimeoutError(f"docker-registry not ready in {_READY_TIMEOUT} s: {log.read_text()}")


@contextlib.contextmanager
def run_registry(root: Path, username: str, password: str) -> Iterator[Registry]:
    """Start docker-registry under root; stop it by its pid on exit."""
    (root / "ca").mkdir()
    key, cert = _certificate(root / "ca")
    # The key stays out of the cert dir: skopeo reads *.key there as a client certificate key.
    key = key.replace(root / "registry.key")
    htpasswd = subprocess.run(
        ["htpasswd", "-niB", username], input=password.encode(), capture_output=True, check=True
    ).stdout
    (root / "htpasswd").write_bytes(htpasswd)
    address = f"127.0.0.1:{_free_port()}"
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: warn}\n"
        f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}}}\n"
        f"http: {{addr: '{address}', secret: test-only,"
        f" tls: {{certificate: {cert}, key: {key}}}}}\n"
        f"auth: {{htpasswd: {{realm: stigmer-test, path: {root / 'htpasswd'}}}}}\n"
    )
    log = root / "registry.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            ["docker-registry", "serve", str(config)], stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        _wait_ready(process, address, cert, log)
        yield Registry(address, root / "ca", username, password, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class Pushed:
    reference: str  # HOST:PORT/stigmer/agent-runner:TAG
    digest: str
    registry: Registry
    seconds: float
    # git HEAD just before and just after the run: others may commit to the shared tree.
    heads: frozenset[str]


def _inspect(registry: Registry, reference: str, *, authenticated: bool = True) -> Any:
    argv = ["skopeo", "inspect", "--cert-dir", str(registry.ca_dir)]
    if authenticated:
        argv += ["--creds", f"{registry.username}:{registry.password}"]
    result = subprocess.run([*argv, f"docker://{reference}"], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip())
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with run_registry(tmp_path_factory.mktemp("registry"), "ci-user", "s3cret-Pa55") as running:
        yield running


def _git_head() -> str:
    result = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    return result.stdout.strip()


def _report_cost(request: pytest.FixtureRequest, seconds: float, log: str) -> None:
    """Print the pipeline's cost even when pytest captures output: it is the slowest test."""
    steps = [line.strip() for line in log.splitlines() if line.strip().endswith(" s")]
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        summary = "; ".join(steps)
        print(f"\n[pipeline] build_and_push_service.sh agent-runner: {seconds:.1f} s ({summary})")


@pytest.fixture(scope="module")
def pushed(registry: Registry, request: pytest.FixtureRequest) -> Pushed:
    env = {
        **os.environ,
        "STIGMER_REGISTRY_USERNAME": registry.username,
        "STIGMER_REGISTRY_PASSWORD": registry.password,
        "STIGMER_REGISTRY_CERT_DIR": str(registry.ca_dir),
    }
    head_before = _git_head()
    started = time.monotonic()
    result = subprocess.run(
        [
            *("bash", str(SCRIPT), "agent-runner", "--registry", f"{registry.address}/stigmer"),
            *("--tag", "pipeline-test", "--builder", "bazel"),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    seconds = time.monotonic() - started
    _report_cost(request, seconds, result.stderr)
    assert result.returncode == 0, result.stderr
    assert registry.password not in result.stdout + result.stderr
    reference, digest = result.stdout.strip().splitlines()[-1].split("@")
    return Pushed(reference, digest, registry, seconds, frozenset({head_before, _git_head()}))


@pytest.fixture(scope="module")
def bundle(pushed: Pushed) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The pushed image pulled back from the registry and unpacked: (rootfs, process config).

    It lives in its own world-traversable directory (pytest's are 0700), so the image's
    user can reach the rootfs when a test runs it through bubblewrap.
    """
    root = Path(tempfile.mkdtemp(prefix="stigmer-pulled-"))
    root.chmod(0o755)
    try:
        yield _pull_and_unpack(pushed, root)
    finally:
        shutil.rmtree(root)


def _pull_and_unpack(pushed: Pushed, root: Path) -> tuple[Path, dict[str, Any]]:
    registry = pushed.registry
    subprocess.run(
        [
            *("skopeo", "copy", "--quiet", "--preserve-digests"),
            *("--src-cert-dir", str(registry.ca_dir)),
            *("--src-creds", f"{registry.username}:{registry.password}"),
            *(f"docker://{pushed.reference}", f"oci:{root / 'layout'}:pulled"),
        ],
        capture_output=True,
        check=True,
    )
    index = json.loads((root / "layout" / "index.json").read_text())
    assert index["manifests"][0]["digest"] == pushed.digest
    subprocess.run(
        ["umoci", "unpack", "--image", f"{root / 'layout'}:pulled", str(root / "bundle")],
        capture_output=True,
        check=True,
    )
    (root / "bundle").chmod(0o755)
    runtime = json.loads((root / "bundle" / "config.json").read_text())
    return root / "bundle" / "rootfs", runtime["process"]


def _run_as_image_user(
    rootfs: Path, process: dict[str, Any], argv: list[str]
) -> subprocess.CompletedProcess[str]:
    """argv in the rootfs as the image's user with exactly the image's environment."""
    user = process["user"]
    return subprocess.run(
        [
            *("chroot", f"--userspec={user['uid']}:{user['gid']}", str(rootfs)),
            *("/usr/bin/env", "-i", *process["env"], *argv),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_registry_serves_the_digest_that_was_built(pushed: Pushed) -> None:
    remote = _inspect(pushed.registry, pushed.reference)

    assert pushed.digest.startswith("sha256:")
    assert remote["Digest"] == pushed.digest
    assert remote["Labels"]["org.opencontainers.image.title"] == "agent-runner"
    assert remote["Labels"]["org.opencontainers.image.revision"] in pushed.heads


def test_registry_refuses_anonymous_reads(pushed: Pushed) -> None:
    with pytest.raises(RuntimeError, match=r"(?i)unauthorized|authentication required"):
        _inspect(pushed.registry, pushed.reference, authenticated=False)


def test_image_runs_as_its_unprivileged_user_and_imports_the_stubs(
    bundle: tuple[Path, dict[str, Any]],
) -> None:
    rootfs, process = bundle
    probe = (
        "import os, sys, ai.stigmer.agentic.agentexecution.v1.api_pb2, stigmer_contracts, "
        "stigmer_status, agent_runner, grpc, temporalio, deepagents; "
        "print(os.getuid(), os.getgid(), sys.prefix, sys.version.split()[0])"
    )
    started = time.monotonic()
    result = _run_as_image_user(rootfs, process, ["/opt/venv/bin/python", "-c", probe])

    print(f"import smoke run took {time.monotonic() - started:.2f} s")
    assert result.returncode == 0, result.stderr
    assert process["args"] == ["/opt/venv/bin/agent-runner"]
    uid, gid, prefix, version = result.stdout.split()
    assert (uid, gid, prefix) == ("65532", "65532", "/opt/venv")
    assert version.startswith("3.11.")


def test_agent_runner_check_prints_versions(bundle: tuple[Path, dict[str, Any]]) -> None:
    rootfs, process = bundle
    main = rootfs / "opt/venv/lib/python3.11/site-packages/agent_runner/main.py"
    if not main.is_file() or "--check" not in main.read_text():
        pytest.skip("agent-runner has no --check yet (issue 4): the import smoke run covers it")

    result = _run_as_image_user(rootfs, process, [*process["args"], "--check"])

    assert result.returncode == 0, result.stderr
    assert "agent-runner" in result.stdout


def test_bubblewrap_in_the_image_starts_a_sandbox_for_the_image_user(
    bundle: tuple[Path, dict[str, Any]],
) -> None:
    """The runner's local sandbox inside the image, the way a container runtime would run it.

    The outer bubblewrap stands in for the runtime (chroot cannot be used: the kernel
    refuses new user namespaces inside a chroot); the inner one is the image's own bwrap,
    run as 65532 with the arguments the runner's local sandbox computes (`bwrap_prefix`).
    """
    rootfs, _ = bundle
    workspace = rootfs.parent / "workspace"
    workspace.mkdir()
    os.chown(workspace, 65532, 65532)
    # The runner's own bubblewrap arguments, computed inside the image by the image's Python.
    launch = (
        "import os, pathlib\n"
        "from agent_runner.sandbox._shell import bwrap_prefix\n"
        "argv = bwrap_prefix('/usr/bin/bwrap', pathlib.Path('/var/lib/stigmer'), network=False)\n"
        "argv += ['/bin/sh', '-c', 'echo sandboxed > proof && id -u']\n"
        "os.execv(argv[0], argv)\n"
    )
    inner = ["/opt/venv/bin/python", "-c", launch]
    outer = ["setpriv", "--reuid=65532", "--regid=65532", "--clear-groups", "bwrap"]
    outer += ["--ro-bind", str(rootfs), "/", "--bind", str(workspace), "/var/lib/stigmer"]
    outer += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--unshare-all"]
    outer += ["--die-with-parent", "--clearenv", "--setenv", "PATH", "/usr/bin:/bin"]

    result = subprocess.run([*outer, *inner], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "65532"
    assert (workspace / "proof").read_text() == "sandboxed\n"
