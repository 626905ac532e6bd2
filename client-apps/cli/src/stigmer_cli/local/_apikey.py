"""The local API keys (the CLI's admin key, the runner's key): generated once per data
directory, readable only by their owner, given to the server as bootstrap keys."""

from __future__ import annotations

import base64
import secrets
import stat
from pathlib import Path

from stigmer_cli._errors import CliError
from stigmer_cli.local._layout import write_private

_PREFIX = "stk_local_"


def ensure_api_key(path: Path) -> str:
    """Return the key stored at `path`, creating it (mode 0600) on first use."""
    if path.exists():
        return read_api_key(path)
    key = _PREFIX + secrets.token_urlsafe(32)
    write_private(path, key + "\n")
    return key


def ensure_secrets_key(path: Path) -> None:
    """The server's key file for secrets at rest, created (mode 0600) on first use.

    One line, `<key id> <base64 of 32 random bytes>`: the format of STIGMER_SECRETS_KEY_FILE.
    """
    if not path.exists():
        key = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
        write_private(path, f"local-1 {key}\n")


def read_api_key(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise CliError(
            f"{path} is readable by other users (mode {mode:04o})",
            fix=f"chmod 600 {path}",
        )
    key = path.read_text(encoding="utf-8").strip()
    if not key:
        raise CliError(f"{path} is empty", fix=f"delete {path}; `stigmer local up` makes a new one")
    return key
