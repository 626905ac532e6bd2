"""Resource ids: `<prefix>-<ulid>` (lower case), increasing within one process.

ULIDs sort by creation time; two ids minted in the same millisecond are still ordered by
bumping the random part, so "created before" is "smaller id" for list pages and turns.
"""

from __future__ import annotations

import threading

from ulid import ULID


class IdFactory:
    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def new(self, prefix: str) -> str:
        with self._lock:
            value = int(ULID())
            if value <= self._last:
                value = self._last + 1
            self._last = value
        return f"{prefix}-{str(ULID.from_int(value)).lower()}"
