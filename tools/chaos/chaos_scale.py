"""How hard the chaos suite pushes: the short version in `make test`, the full one in `make chaos`.

`CHAOS_SCALE=full` (what `make chaos` sets) selects the issue's figures; anything else runs
a few repetitions of each scenario, enough to exercise every path in about two minutes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

SCALE_ENV = "CHAOS_SCALE"


@dataclass(frozen=True)
class Scale:
    full: bool
    runner_kills: int
    server_kills: int
    output_mb: int
    big_calls: int  # calls printing 60 KB each
    small_calls: int
    random_cancels: int

    @property
    def name(self) -> str:
        return "full" if self.full else "short"

    def timeout(self, short: float, full: float) -> float:
        """A test's timeout at this scale (pytest-timeout's budget for the whole test)."""
        return full if self.full else short


FULL = Scale(
    full=True,
    runner_kills=10,
    server_kills=5,
    output_mb=400,
    big_calls=30,
    small_calls=300,
    random_cancels=20,
)
SHORT = Scale(
    full=False,
    runner_kills=2,
    server_kills=1,
    output_mb=50,
    big_calls=6,
    small_calls=30,
    random_cancels=3,
)


def current_scale() -> Scale:
    return FULL if os.environ.get(SCALE_ENV, "").strip().lower() == "full" else SHORT


SCALE = current_scale()
