"""The turn's environment: layers merged in order, and the redaction of its secrets.

Layers, later wins: the agent's `env_spec`, each of the instance's environments in order, the
execution's `runtime_env`. A value marked secret must never leave the sandbox in clear text:
the `Redactor` built from the merged layers replaces it with `***` in logs, status and tool
output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

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

    def redactor(self) -> Redactor:
        return Redactor(self.variables[name] for name in self.secret_names)


def merge_environment(
    layers: Iterable[tuple[str, Mapping[str, EnvironmentValue]]],
) -> MergedEnvironment:
    """Merge (layer name, data) pairs in order; a bad variable name is rejected with its layer."""
    variables: dict[str, str] = {}
    secrets: set[str] = set()
    for layer, data in layers:
        for name in sorted(data):
            if not _NAME.match(name):
                raise ValueError(
                    f"{layer}: environment variable name {name!r} is not a POSIX name "
                    "(expected letters, digits and underscores, not starting with a digit)"
                )
            value = data[name]
            variables[name] = value.value
            # A later layer decides: a secret overridden by a plain value is plain now.
            if value.is_secret:
                secrets.add(name)
            else:
                secrets.discard(name)
    return MergedEnvironment(variables=variables, secret_names=frozenset(secrets))


class Redactor:
    """Replaces every known secret value in a text by `***`, longest first."""

    def __init__(self, secrets: Iterable[str]) -> None:
        values = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        # Streamed text holds back this many characters: a secret split across two chunks
        # must not leave in clear before its second half arrives.
        self.holdback = max((len(v) for v in values), default=1) - 1
        self._pattern = (
            re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)))
            if values
            else None
        )

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(REDACTED, text)

    @property
    def active(self) -> bool:
        return self._pattern is not None
