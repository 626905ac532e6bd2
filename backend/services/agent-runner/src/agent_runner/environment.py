"""The turn's environment: layers merged in order, and the redaction of its secrets.

Layers, later wins: the agent's `env_spec`, each of the instance's environments in order, the
execution's `runtime_env`. A value marked secret must never leave the sandbox in clear text:
the `Redactor` built from the merged layers replaces it with `***` in logs, status and tool
output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from agent_runner.errors import InvalidInputError
from ai.stigmer.commons.apiresource.environment_pb2 import EnvironmentValue

REDACTED = "***"
# Short values (a "1" or "on") would shred every output they appear in; such a secret is
# not a secret worth the noise, so redaction only covers values of this length or more.
MIN_SECRET_LENGTH = 4
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class MergedEnvironment:
    variables: Mapping[str, str]
    secret_names: frozenset[str]
    # The layer each variable's value came from (the last one that set it).
    origins: Mapping[str, str] = field(default_factory=dict)

    def redactor(self) -> Redactor:
        return Redactor(self.variables[name] for name in self.secret_names)


def merge_environment(
    layers: Iterable[tuple[str, Mapping[str, EnvironmentValue]]],
) -> MergedEnvironment:
    """Merge (layer name, data) pairs in order; a bad variable name is rejected with its layer."""
    variables: dict[str, str] = {}
    origins: dict[str, str] = {}
    secrets: set[str] = set()
    for layer, data in layers:
        for name in sorted(data):
            if not _NAME.match(name):
                raise InvalidInputError(
                    f"{layer}: environment variable name {name!r} is not a POSIX name "
                    "(expected letters, digits and underscores, not starting with a digit)"
                )
            value = data[name]
            variables[name] = value.value
            origins[name] = layer
            # A later layer decides: a secret overridden by a plain value is plain now.
            if value.is_secret:
                secrets.add(name)
            else:
                secrets.discard(name)
    return MergedEnvironment(variables=variables, secret_names=frozenset(secrets), origins=origins)


class Redactor:
    """Replaces every known secret value in a text by `***`, longest first.

    Text that is cut (a stream not finished yet, output kept only in part) can end with the
    first part of a secret, or start with its last part, which redaction cannot recognise:
    `partial_prefix` and `partial_suffix` say how much of such an edge to hold back or drop.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        values = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        self._secrets = tuple(sorted(values, key=len, reverse=True))
        self._pattern = (
            re.compile("|".join(re.escape(v) for v in self._secrets)) if values else None
        )

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(REDACTED, text)

    def partial_prefix(self, text: str) -> int:
        """The length of the longest end of `text` that is a proper prefix of a secret (0 when
        none is): what streamed text must hold back until the next chunk decides."""
        longest = 0
        for secret in self._secrets:
            for size in range(min(len(secret) - 1, len(text)), longest, -1):
                if text.endswith(secret[:size]):
                    longest = size
                    break
        return longest

    def partial_suffix(self, text: str) -> int:
        """The length of the longest start of `text` that is a proper suffix of a secret: what
        a text kept from the middle of a stream must drop."""
        longest = 0
        for secret in self._secrets:
            for size in range(min(len(secret) - 1, len(text)), longest, -1):
                if text.startswith(secret[-size:]):
                    longest = size
                    break
        return longest
