"""Where the repository and its installed tools are."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def repo_root() -> Path:
    """The checkout this plugin runs from: the nearest directory above holding uv.lock."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "uv.lock").is_file():
            return parent
    return Path.cwd()


def temporal_cli() -> Path | None:
    """The Temporal CLI `make setup` installed (.tools/bin), STIGMER_TEMPORAL_BIN, or PATH."""
    explicit = os.environ.get("STIGMER_TEMPORAL_BIN")
    candidates = [Path(explicit)] if explicit else []
    candidates.append(repo_root() / ".tools" / "bin" / "temporal")
    on_path = shutil.which("temporal")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None
