"""Shared pytest fixtures that start real processes: Temporal, servers, databases; and the
deadline-bound waits every suite uses (`eventually`, `eventually_async`)."""

from stigmer_testing._waiting import eventually, eventually_async

__all__ = ["eventually", "eventually_async"]
