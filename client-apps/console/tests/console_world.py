"""What the console's browser tests share: a real local system (`stigmer local up` from a
fresh STIGMER_HOME, run through the CLI as a user would) and where the browser and the
screenshots are."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from stigmer_testing import free_ports

REPO = Path(__file__).resolve().parents[3]
CONSOLE = REPO / "client-apps" / "console"
ARTIFACTS = CONSOLE / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
_SCRIPT = Path(sys.executable).parent / "stigmer"
STIGMER = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "stigmer_cli"]
WAIT_MS = 90_000


@dataclass(frozen=True)
class Local:
    home: Path

    def stigmer(self, *args: str, timeout: float = 180) -> str:
        # No provider keys: the turns here are offline (the scripted model), or fail for want
        # of one.
        cleared = ("STIGMER_", "TEMPORAL_", "OPENAI_", "ANTHROPIC_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(cleared)}
        env["STIGMER_HOME"] = str(self.home)
        done = subprocess.run(
            [*STIGMER, *args], env=env, capture_output=True, text=True, timeout=timeout,
            cwd=REPO, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"stigmer {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def sign_in_link(self, *args: str) -> str:
        out = self.stigmer("local", "console", *args)
        match = re.search(r"Console: (http://\S+)", out)
        assert match, out
        return match.group(1)


@contextmanager
def local_system(home: Path) -> Iterator[tuple[Local, str]]:
    """A local system up in `home` (with `stigmer local up`'s output), down at the end."""
    if not (CONSOLE / "dist" / "index.html").is_file():
        pytest.fail("the console is not built (client-apps/console/dist): run `make setup`")
    system = Local(home)
    ports = free_ports(3)
    up = system.stigmer(
        "local", "up", "--temporal-port", str(ports[0]), "--temporal-ui-port", str(ports[1]),
        "--server-port", str(ports[2]),
    )  # fmt: skip
    try:
        yield system, up
    finally:
        system.stigmer("local", "down", timeout=60)
