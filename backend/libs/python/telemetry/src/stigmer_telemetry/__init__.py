"""Logs, traces and metrics, set up the same way by the server, the runner and the CLI."""
