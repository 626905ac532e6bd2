"""The live view of an execution: rendering and following through `subscribe`."""

from stigmer_cli.live._display import LiveDisplay, Tail
from stigmer_cli.live._view import render_execution
from stigmer_cli.live._watch import Watcher

__all__ = ["LiveDisplay", "Tail", "Watcher", "render_execution"]
