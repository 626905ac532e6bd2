"""How long one command may run: the configured default, and a maximum the model cannot pass.

deepagents lets the model give `execute` a timeout of its own (up to an hour). That is
useful (a build may need more than the default) but it must not outlast what the operator
allows, so a longer request is clamped to the maximum and the tool output says so, for the
model to plan with the time it really has.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from deepagents.backends.protocol import ExecuteResponse


@dataclass(frozen=True)
class CommandTimeout:
    default: int
    maximum: int

    @classmethod
    def of(cls, default: int, maximum: int | None) -> CommandTimeout:
        return cls(default=default, maximum=default if maximum is None else maximum)

    def resolve(self, requested: int | None) -> tuple[int, str | None]:
        """The seconds the command gets, and a notice for the model when it was clamped."""
        if requested is None:
            return self.default, None
        if requested <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {requested}")
        if requested > self.maximum:
            return self.maximum, (
                f"Note: the requested timeout of {requested} seconds is above this sandbox's "
                f"maximum; the command ran with a timeout of {self.maximum} seconds."
            )
        return requested, None


def with_notice(response: ExecuteResponse, notice: str | None) -> ExecuteResponse:
    if notice is None:
        return response
    return replace(response, output=f"{notice}\n\n{response.output}")
