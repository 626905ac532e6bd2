"""Makes the stdlib-only `stigmer_oci` tool importable in its tests without installing it."""

import sys
from pathlib import Path

_TOOL_DIR = str(Path(__file__).resolve().parent)
if _TOOL_DIR not in sys.path:
    sys.path.insert(0, _TOOL_DIR)
