"""One-time sign-in links for the console: a short-lived ticket that stands for a key.

`stigmer local up` asks for a ticket with its key and prints a link carrying the ticket, so
the key itself is never in a URL, a browser history or a server log. The console redeems
the ticket once for the key and keeps the key in the tab's session storage. Tickets live
in this replica's memory only: the link must be opened against the server that made it.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Final

TICKET_SECONDS: Final = 600.0
_MAX_OPEN: Final = 1000


@dataclass(frozen=True)
class _Ticket:
    key: str
    expires: float


class SignInTickets:
    def __init__(self, lifetime: float = TICKET_SECONDS) -> None:
        self._lifetime = lifetime
        self._open: dict[str, _Ticket] = {}

    def issue(self, key: str) -> str:
        """A new ticket for `key` (already authenticated by the caller)."""
        now = time.monotonic()
        self._open = {t: v for t, v in self._open.items() if v.expires > now}
        if len(self._open) >= _MAX_OPEN:  # bounded: a key holder cannot fill the memory
            self._open.pop(next(iter(self._open)))
        ticket = secrets.token_urlsafe(32)
        self._open[ticket] = _Ticket(key, now + self._lifetime)
        return ticket

    def redeem(self, ticket: str) -> str | None:
        """The key `ticket` stands for, once; None when unknown, used or expired."""
        found = self._open.pop(ticket, None)
        if found is None or found.expires <= time.monotonic():
            return None
        return found.key
