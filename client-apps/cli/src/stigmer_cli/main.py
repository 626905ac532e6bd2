"""The `stigmer` command: local mode, manifests, turns."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from stigmer_cli._errors import CliError
from stigmer_cli.commands import register
from stigmer_cli.local.commands import app as local_app


class _App(typer.Typer):
    """Typer with one place that turns a CliError into a message and an exit code."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except CliError as error:
            console = Console(stderr=True)
            console.print(f"[bold red]error:[/] {escape(error.message)}", soft_wrap=True)
            if error.fix:
                console.print(f"[bold]fix:[/] {escape(error.fix)}", soft_wrap=True)
            raise SystemExit(error.exit_code) from None


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
