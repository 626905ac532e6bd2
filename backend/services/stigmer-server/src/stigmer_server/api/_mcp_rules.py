"""What an McpServer's spec must hold: one transport, a command or an http(s) URL, values
whose `$` forms the runner can resolve, and tool names that are names."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from stigmer_server.errors import InvalidArgument
from stigmer_server.validation import check_env_names

# A value is literal text with `${NAME}` naming a variable of the turn's merged
# environment; `$$` is a literal `$`. Any other `$` is refused here rather than passed on
# as text, because a typo such as `$TOKEN` would otherwise send the name instead of the secret.
_VALUE_PART = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$\$|\$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_.\-/]{1,128}$")
TOOL_TIMEOUT_RANGE = (1, 24 * 3600)


def check_mcp_server_spec(spec: Any) -> None:
    transport = spec.WhichOneof("transport")
    if transport is None:
        raise InvalidArgument("spec", "required: one transport, stdio or streamable_http")
    if transport == "stdio":
        _check_stdio(spec.stdio)
    else:
        _check_http(spec.streamable_http)
    seen: set[str] = set()
    for index, name in enumerate(spec.tools):
        field = f"spec.tools[{index}]"
        if not _TOOL_NAME.match(name):
            raise InvalidArgument(field, f"expected an MCP tool name, got {name[:80]!r}")
        if name in seen:
            raise InvalidArgument(field, f"duplicate tool {name!r}")
        seen.add(name)
    if spec.HasField("tool_timeout"):
        _check_tool_timeout(spec.tool_timeout)


def _check_tool_timeout(timeout: Any) -> None:
    seconds = timeout.seconds + timeout.nanos / 1e9
    low, high = TOOL_TIMEOUT_RANGE
    if not low <= seconds <= high or timeout.nanos < 0:
        raise InvalidArgument(
            "spec.tool_timeout", f"expected from {low} s to {high // 3600} h, got {seconds:g} s"
        )


def _check_stdio(stdio: Any) -> None:
    if not stdio.command.strip():
        raise InvalidArgument("spec.stdio.command", "required: the program that runs the server")
    check_env_names(stdio.env, "spec.stdio.env")
    for name, value in stdio.env.items():
        check_value(value, f"spec.stdio.env[{name!r}]")


def _check_http(http: Any) -> None:
    url = urlsplit(http.url)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise InvalidArgument(
            "spec.streamable_http.url", f"expected an http:// or https:// URL, got {http.url!r}"
        )
    for name, value in http.headers.items():
        field = f"spec.streamable_http.headers[{name[:64]!r}]"
        if not _HEADER_NAME.match(name):
            raise InvalidArgument(field, "expected an HTTP header name")
        check_value(value, field)


def check_value(value: str, field: str) -> None:
    """Reject a `$` that is neither `${NAME}` nor `$$`."""
    for match in _VALUE_PART.finditer(value):
        if match.group() == "$":
            rest = value[match.start() : match.start() + 24]
            raise InvalidArgument(
                field,
                f"unknown variable form at {rest!r}: expected ${{NAME}} naming a variable "
                "of the turn's environment, or $$ for a literal $",
            )
