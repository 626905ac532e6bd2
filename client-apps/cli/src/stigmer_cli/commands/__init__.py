"""The resource and turn commands, registered on the root app with the shared options."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stigmer_cli import _env
from stigmer_cli._context import GlobalOptions
from stigmer_cli.commands._approvals import approve_command, pending_command, reject_command
from stigmer_cli.commands._keys import app as keys_app
from stigmer_cli.commands._resources import (
    apply_command,
    delete_command,
    executions_command,
    get_command,
    sessions_command,
)
from stigmer_cli.commands._run import cancel_command, run_command


def _root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            envvar=_env.STIGMER_HOME,
            help="Local mode's data directory (default ~/.stigmer).",
        ),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            envvar=_env.STIGMER_SERVER_ADDRESS,
            help="host:port of the stigmer-server (default: the local system's).",
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar=_env.STIGMER_API_KEY,
            help="API key (default: the local system's key file).",
            show_default=False,
        ),
    ] = None,
) -> None:
    ctx.obj = GlobalOptions(
        home=(home or Path.home() / ".stigmer").expanduser(), server=server, api_key=api_key
    )


def register(root: typer.Typer) -> None:
    root.callback()(_root)
    root.command("apply")(apply_command)
    root.command("get")(get_command)
    root.command("delete")(delete_command)
    root.command("run")(run_command)
    root.command("cancel")(cancel_command)
    root.command("approve")(approve_command)
    root.command("reject")(reject_command)
    root.command("pending")(pending_command)
    root.command("sessions")(sessions_command)
    root.command("executions")(executions_command)
    root.add_typer(keys_app, name="keys")
