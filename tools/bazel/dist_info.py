"""Writes the METADATA of a workspace package from its pyproject.toml (name and version).

Bazel's environment installs only third-party packages; the workspace packages run from
source. This file, placed next to the package's import root, lets
`importlib.metadata.version("agent-runner")` answer as it does under uv. Entry points are
left out on purpose: the pytest plugin is loaded explicitly by the pytest runner.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def metadata(pyproject: Path) -> str:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    name, version = project.get("name"), project.get("version")
    if not isinstance(name, str) or not isinstance(version, str):
        raise SystemExit(f"{pyproject}: [project] needs a static name and version")
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if isinstance(project.get("description"), str):
        lines.append(f"Summary: {project['description']}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: dist_info.py PYPROJECT OUTPUT")
    Path(sys.argv[2]).write_text(metadata(Path(sys.argv[1])), encoding="utf-8")
