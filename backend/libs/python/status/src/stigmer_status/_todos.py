"""Todo keys: deepagents' `write_todos` items carry no id, so the position is the key."""

from __future__ import annotations


def todo_key(position: int) -> str:
    """`todo-<position>` for the item at `position` (0-based) of the latest todo list."""
    if position < 0:
        raise ValueError(f"position: expected a non-negative index, got {position}")
    return f"todo-{position}"
