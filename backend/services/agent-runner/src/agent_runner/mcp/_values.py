"""Header and env values of an McpServer: literal text with `${NAME}` naming a variable of
the turn's merged environment, and `$$` for a literal `$`.

The server refuses any other `$` on write; the runner checks again because a resource
written before that check, or a variable missing from this turn's environment, must fail the
turn with the field named rather than send the reference itself to a server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from agent_runner.errors import InvalidInputError

_PART = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\$|\$")


def resolve_value(value: str, variables: Mapping[str, str], *, where: str) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is not None:
            if name not in variables:
                raise InvalidInputError(
                    f"{where}: ${{{name}}} names no variable of the turn's environment "
                    "(the agent's env_spec, the instance's environments, the runtime_env)"
                )
            return variables[name]
        if match.group() == "$$":
            return "$"
        raise InvalidInputError(
            f"{where}: unknown variable form at {value[match.start() : match.start() + 24]!r}; "
            "expected ${NAME} or $$ for a literal $"
        )

    return _PART.sub(substitute, value)


def resolve_values(
    values: Mapping[str, str], variables: Mapping[str, str], *, where: str
) -> dict[str, str]:
    return {
        key: resolve_value(value, variables, where=f"{where}[{key!r}]")
        for key, value in sorted(values.items())
    }
