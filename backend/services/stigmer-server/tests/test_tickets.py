"""Console sign-in tickets: one use each, none after their lifetime, never the key itself."""

from __future__ import annotations

from stigmer_server.web import SignInTickets


def test_a_ticket_stands_for_its_key_once() -> None:
    tickets = SignInTickets()
    ticket = tickets.issue("the-key")
    assert "the-key" not in ticket
    assert tickets.redeem(ticket) == "the-key"
    assert tickets.redeem(ticket) is None


def test_an_expired_or_unknown_ticket_is_refused() -> None:
    expired = SignInTickets(lifetime=0)
    assert expired.redeem(expired.issue("k")) is None
    assert SignInTickets().redeem("made-up") is None


def test_open_tickets_are_bounded() -> None:
    tickets = SignInTickets()
    first = tickets.issue("k")
    for _ in range(1000):
        tickets.issue("k")
    assert tickets.redeem(first) is None  # the oldest made room
