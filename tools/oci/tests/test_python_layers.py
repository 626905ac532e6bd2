"""What uv leaves behind is made host-independent; service metadata is read and validated."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from stigmer_oci.base import cache_key, mmdebstrap_argv
from stigmer_oci.python_layers import _finish_site_packages
from stigmer_oci.spec import SpecError, base_spec, check_epoch, check_tag, load_service


def _uv_target_output(site: Path) -> None:
    """site-packages as `uv pip install --target` leaves it for a wheel with a console script."""
    dist = site / "demo-1.0.dist-info"
    dist.mkdir(parents=True)
    (site / "bin").mkdir()
    (site / "bin/demo").write_text(
        "#!/home/builder/.venv/bin/python3\nfrom demo import main\nmain()\n"
    )
    (site / ".lock").write_text("")
    (dist / "direct_url.json").write_text('{"url":"file:///tmp/wheels/demo-1.0.whl"}')
    (dist / "uv_cache.json").write_text('{"timestamp":{"secs_since_epoch":1795498342}}')
    (dist / "RECORD").write_text(
        "demo/__init__.py,sha256=abc,10\n"
        "bin/demo,sha256=old,60\n"
        "demo-1.0.dist-info/direct_url.json,sha256=def,40\n"
        "demo-1.0.dist-info/uv_cache.json,sha256=ghi,45\n"
        "demo-1.0.dist-info/RECORD,,\n"
    )


def test_finish_moves_scripts_into_the_venv_with_the_image_interpreter(tmp_path: Path) -> None:
    site = tmp_path / "opt/venv/lib/python3.11/site-packages"
    _uv_target_output(site)
    (tmp_path / "opt/venv/bin").mkdir()

    _finish_site_packages(site)

    script = tmp_path / "opt/venv/bin/demo"
    content = script.read_bytes()
    assert content == b"#!/opt/venv/bin/python\nfrom demo import main\nmain()\n"
    assert script.stat().st_mode & 0o777 == 0o755
    assert not (site / "bin").exists()
    assert not (site / ".lock").exists()
    digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
    assert (site / "demo-1.0.dist-info/RECORD").read_text().splitlines() == [
        "demo/__init__.py,sha256=abc,10",
        f"../../../bin/demo,sha256={digest},{len(content)}",
        "demo-1.0.dist-info/RECORD,,",
    ]
    assert not (site / "demo-1.0.dist-info/direct_url.json").exists()
    assert not (site / "demo-1.0.dist-info/uv_cache.json").exists()


def _service(root: Path, name: str, scripts: str) -> None:
    directory = root / "backend" / "services" / name
    directory.mkdir(parents=True)
    (directory / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "2.1.0"\n\n[project.scripts]\n{scripts}'
    )


def test_load_service_reads_the_entrypoint_from_pyproject(tmp_path: Path) -> None:
    _service(tmp_path, "demo-svc", 'demo-svc = "demo_svc.main:main"\n')

    service = load_service(tmp_path, "demo-svc")

    assert (service.name, service.package, service.version, service.script) == (
        "demo-svc",
        "demo-svc",
        "2.1.0",
        "demo-svc",
    )


def test_a_service_needs_exactly_one_console_script(tmp_path: Path) -> None:
    _service(tmp_path, "two", 'a = "x:main"\nb = "y:main"\n')

    with pytest.raises(SpecError, match=r"exactly one entrypoint, found 2"):
        load_service(tmp_path, "two")


def test_unknown_service_names_the_known_ones(tmp_path: Path) -> None:
    _service(tmp_path, "alpha", 'alpha = "a:main"\n')
    _service(tmp_path, "beta", 'beta = "b:main"\n')

    with pytest.raises(SpecError, match=r"unknown service 'nope'; expected one of: alpha, beta$"):
        load_service(tmp_path, "nope")


@pytest.mark.parametrize("tag", ["", "has space", "-leading", "x" * 129, "a/b"])
def test_bad_tags_are_rejected(tag: str) -> None:
    with pytest.raises(SpecError, match="is not a valid image tag"):
        check_tag(tag)


def test_epoch_and_base_inputs_are_validated() -> None:
    assert check_epoch("1735689600") == 1735689600
    with pytest.raises(SpecError, match="SOURCE_DATE_EPOCH: expected whole seconds"):
        check_epoch("2025-01-01")
    with pytest.raises(SpecError, match="suite: 'Bookworm!'"):
        base_spec(suite="Bookworm!", mirror="http://deb.debian.org/debian", epoch=0)
    with pytest.raises(SpecError, match="mirror: expected an http"):
        base_spec(suite="bookworm", mirror="deb.debian.org", epoch=0)


def test_base_cache_key_follows_every_input() -> None:
    spec = base_spec(suite="bookworm", mirror="http://deb.debian.org/debian", epoch=1)
    same = base_spec(suite="bookworm", mirror="http://deb.debian.org/debian", epoch=1)
    changed = [
        base_spec(suite="bookworm", mirror="http://deb.debian.org/debian", epoch=2),
        base_spec(suite="trixie", mirror="http://deb.debian.org/debian", epoch=1),
        base_spec(suite="bookworm", mirror="http://snapshot.debian.org/archive/debian/x", epoch=1),
        replace(spec, packages=(*spec.packages, "curl")),
    ]

    assert cache_key(spec) == cache_key(same)
    assert len({cache_key(spec), *(cache_key(other) for other in changed)}) == 5


def test_base_recipe_strips_host_files_and_adds_the_image_user() -> None:
    spec = base_spec(suite="bookworm", mirror="http://deb.debian.org/debian", epoch=1)

    argv = mmdebstrap_argv(spec, Path("/out/rootfs.tar"))

    assert argv[:2] == ["mmdebstrap", "--variant=essential"]
    assert "--include=python3,libstdc++6,ca-certificates,tzdata,bubblewrap" in argv
    assert argv[-3:] == ["bookworm", "/out/rootfs.tar", "http://deb.debian.org/debian"]
    hooks = [arg.removeprefix("--customize-hook=") for arg in argv if "customize-hook" in arg]
    assert 'rm -f "$1/etc/resolv.conf" "$1/etc/hostname"' in hooks
    assert any("nonroot:x:65532:65532:" in hook and "/etc/passwd" in hook for hook in hooks)
    assert any('chown 65532:65532 "$1/var/lib/stigmer"' in hook for hook in hooks)
