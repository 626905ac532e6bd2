"""Shared pytest fixtures that start real processes: Temporal, servers, databases; and the
deadline-bound waits every suite uses (`eventually`, `eventually_async`)."""

from stigmer_testing._ports import free_port, free_ports
from stigmer_testing._waiting import eventually, eventually_async

__all__ = ["eventually", "eventually_async", "free_port", "free_ports"]
