"""The `stigmer` command: local mode, manifests, turns."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import typer
from opentelemetry import trace
from rich.console import Console
from rich.markup import escape

from stigmer_cli._errors import CliError
from stigmer_cli.commands import register
from stigmer_cli.local.commands import app as local_app
from stigmer_telemetry.tracing import configure_tracing, shutdown_tracing


class _App(typer.Typer):
    """Typer with one place that turns a CliError into a message and an exit code."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            with _command_span():
                return super().__call__(*args, **kwargs)
        except CliError as error:
            console = Console(stderr=True)
            console.print(f"[bold red]error:[/] {escape(error.message)}", soft_wrap=True)
            if error.fix:
                console.print(f"[bold]fix:[/] {escape(error.fix)}", soft_wrap=True)
            raise SystemExit(error.exit_code) from None


@contextlib.contextmanager
def _command_span() -> Iterator[None]:
    """With tracing on (OTEL_* set), the command is one span: its calls join one trace."""
    if not configure_tracing("stigmer-cli"):
        yield
        return
    # The command's name only: its arguments may hold secret values (--env KEY=value).
    words = [word for word in sys.argv[1:3] if not word.startswith("-")][:1]
    try:
        with trace.get_tracer("stigmer_cli").start_as_current_span(" ".join(["stigmer", *words])):
            yield
    finally:
        shutdown_tracing()


def build() -> typer.Typer:
    root = _App(
        name="stigmer",
        help="Run AI agents durably: local mode, manifests, live turns.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    root.add_typer(local_app, name="local")
    register(root)
    return root


app = build()
