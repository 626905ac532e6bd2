"""The live view of an execution: rendering and following through `subscribe`."""

from stigmer_cli.live._view import render_execution
from stigmer_cli.live._watch import Watcher

__all__ = ["Watcher", "render_execution"]
