"""The console's one-time sign-in link: a ticket the local server issues for the CLI's key.

The link carries the ticket, never the key; the console trades it for the key once
(stigmer_server.web._tickets says why).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from stigmer_cli._errors import CliError
from stigmer_cli.local._layout import LocalSettings

_TIMEOUT_SECONDS = 10.0


def sign_in_link(settings: LocalSettings, api_key: str, session: str = "") -> str:
    """A link that signs the console in once, opening `session` when given."""
    if not settings.console_url:
        raise CliError(
            "this local system was started without the HTTP API (an older settings file)",
            fix="restart it: `stigmer local down && stigmer local up`",
        )
    # Always http://127.0.0.1:<port> from our own settings file, never a user-given scheme.
    request = urllib.request.Request(  # noqa: S310
        f"{settings.console_url}/console/tickets",
        method="POST",
        headers={"authorization": f"Bearer {api_key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as reply:  # noqa: S310
            ticket = json.loads(reply.read())["ticket"]
    except (urllib.error.URLError, OSError, ValueError, KeyError) as error:
        raise CliError(
            f"could not get a console sign-in link from {settings.console_url}: {error}",
            fix="check `stigmer local status`",
        ) from error
    opens = f"&session={urllib.parse.quote(session, safe='')}" if session else ""
    return f"{settings.console_url}/#ticket={ticket}{opens}"
