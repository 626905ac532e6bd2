"""Shared pytest fixtures that start real processes: Temporal, servers, databases."""
