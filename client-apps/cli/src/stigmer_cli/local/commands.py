"""`stigmer local up|down|status|console|logs`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from stigmer_cli import _env
from stigmer_cli._context import options
from stigmer_cli._errors import CliError
from stigmer_cli.local._apikey import read_api_key
from stigmer_cli.local._components import COMPONENTS
from stigmer_cli.local._control import (
    Health,
    Ports,
    prepare,
    probe,
    read_settings,
    running_state,
    spawn_supervisor,
    stop,
    tail,
    wait_ready,
)
from stigmer_cli.local._layout import (
    DEFAULT_SERVER_PORT,
    DEFAULT_TEMPORAL_PORT,
    DEFAULT_TEMPORAL_UI_PORT,
    Layout,
    LocalSettings,
)
from stigmer_cli.local._signin import sign_in_link
from stigmer_cli.local._state import read_state

app = typer.Typer(help="Run Temporal, the stigmer-server and the agent-runner on this machine.")


def _layout(ctx: typer.Context) -> Layout:
    return options(ctx).layout


def _table(rows: list[Health], *, waiting: bool = False) -> Table:
    """The components; while `up` waits, a spinner marks each one not ready yet."""
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in ("COMPONENT", "STATE", "PID", "ADDRESS", "RESTARTS"):
        table.add_column(column, no_wrap=True)
    table.add_column("HEALTH")
    for row in rows:
        health: RenderableType = Text("ready", style="green")
        if row.phase == "failed":
            health = Text(row.message, style="red")
        elif not row.ready:
            detail = Text(row.problem or row.phase, style="yellow")
            health = Spinner("dots", text=detail) if waiting else detail
        table.add_row(
            row.name,
            row.phase,
            str(row.pid) if row.pid else "-",
            row.address,
            str(row.restarts),
            health,
        )
    return table


@app.command()
def up(
    ctx: typer.Context,
    temporal_port: Annotated[
        int, typer.Option(envvar=_env.STIGMER_LOCAL_TEMPORAL_PORT, help="Temporal gRPC port.")
    ] = DEFAULT_TEMPORAL_PORT,
    temporal_ui_port: Annotated[
        int, typer.Option(envvar=_env.STIGMER_LOCAL_TEMPORAL_UI_PORT, help="Temporal UI port.")
    ] = DEFAULT_TEMPORAL_UI_PORT,
    server_port: Annotated[
        int, typer.Option(envvar=_env.STIGMER_LOCAL_SERVER_PORT, help="stigmer-server port.")
    ] = DEFAULT_SERVER_PORT,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for readiness.")] = 120.0,
) -> None:
    """Start the local system in the background (harmless when it already runs)."""
    console = Console()
    layout = _layout(ctx)
    state = running_state(layout)
    existing = read_settings(layout)
    if state is not None and existing is not None:
        rows = probe(layout, existing, state)
        console.print(_table(rows))
        waiting = [row.name for row in rows if not row.ready]
        if waiting:
            raise CliError(
                f"the local system runs but {', '.join(waiting)} is not ready",
                fix=f"see `stigmer local logs {waiting[0]}`; restart with "
                "`stigmer local down && stigmer local up`",
            )
        console.print(f"The local system already runs (data in {layout.home}).", highlight=False)
        _print_console_link(console, layout, existing)
        return
    stop(layout)  # a stale state file from a killed supervisor: clear what it left
    settings = prepare(layout, Ports(temporal_port, temporal_ui_port, server_port))
    supervisor = spawn_supervisor(layout)
    started = time.monotonic()
    try:
        with Live(console=console, transient=True, refresh_per_second=4) as live:
            rows = wait_ready(
                layout,
                settings,
                supervisor,
                timeout,
                lambda rows: live.update(_table(rows, waiting=True)),
            )
    except (CliError, KeyboardInterrupt):
        stop(layout)
        raise
    console.print(_table(rows))
    _print_metrics(console, settings)
    console.print(
        f"Local system ready in {time.monotonic() - started:.1f}s "
        f"(data in {layout.home}, Temporal UI {settings.temporal_ui_url}).\n"
        "Stop it with `stigmer local down`.",
        highlight=False,
    )
    _print_console_link(console, layout, settings)


@app.command("console")
def console_link(
    ctx: typer.Context,
    session: Annotated[
        str, typer.Option(help="A session id the console opens after signing in.")
    ] = "",
) -> None:
    """Print a one-time sign-in link to the web console (valid 10 minutes, one use)."""
    layout = _layout(ctx)
    settings = read_settings(layout)
    if running_state(layout) is None or settings is None:
        raise CliError("the local system is not running", fix="start it with `stigmer local up`")
    _print_console_link(Console(), layout, settings, session)


def _print_console_link(
    console: Console, layout: Layout, settings: LocalSettings, session: str = ""
) -> None:
    link = sign_in_link(settings, read_api_key(layout.api_key_file), session)
    console.print(
        f"Console: {link}\n(a one-time sign-in link, valid 10 minutes; "
        "`stigmer local console` prints a new one)",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def down(ctx: typer.Context) -> None:
    """Stop exactly the processes `up` started."""
    layout = _layout(ctx)
    stopped = stop(layout)
    if stopped:
        Console().print(f"Stopped the local system (pids {', '.join(map(str, stopped))}).")
    else:
        Console().print("The local system is not running.")


@app.command()
def status(ctx: typer.Context) -> None:
    """Show each component: state, pid, address and health."""
    layout = _layout(ctx)
    state = running_state(layout)
    settings = read_settings(layout)
    if state is None or settings is None:
        orphans = _orphans(layout)
        if orphans:
            Console().print(
                f"The supervisor is gone but processes it started still run (pids "
                f"{', '.join(map(str, orphans))}). Stop them with `stigmer local down`."
            )
        else:
            Console().print("The local system is not running. Start it with `stigmer local up`.")
        raise typer.Exit(3)
    rows = probe(layout, settings, state)
    Console().print(_table(rows))
    _print_metrics(Console(), settings)
    if not all(row.ready for row in rows):
        raise typer.Exit(1)


def _print_metrics(console: Console, settings: LocalSettings) -> None:
    for name, url in settings.metrics_urls.items():
        console.print(f"{name} metrics: {url}", highlight=False)


def _orphans(layout: Layout) -> list[int]:
    recorded = read_state(layout.state_file)
    return [p.pid for p in recorded.processes() if p.alive()] if recorded else []


@app.command()
def logs(
    ctx: typer.Context,
    component: Annotated[
        str | None, typer.Argument(help=f"One of: {', '.join(COMPONENTS)}, supervisor.")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", help="Lines to show first.")] = 40,
) -> None:
    """Print the components' logs."""
    layout = _layout(ctx)
    known = (*COMPONENTS, "supervisor")
    if component is not None and component not in known:
        raise CliError(f"unknown component {component!r}", fix=f"use one of: {', '.join(known)}")
    names = [component] if component else list(known)
    for name in names:
        if lines <= 0:
            break
        if len(names) > 1:
            typer.echo(f"==> {layout.log_file(name)} <==")
        typer.echo(tail(layout.log_file(name), lines))
    if follow:
        _follow({name: layout.log_file(name) for name in names})


def _follow(files: dict[str, Path]) -> None:
    offsets = {name: path.stat().st_size if path.exists() else 0 for name, path in files.items()}
    try:
        while True:
            for name, path in files.items():
                if not path.exists():
                    continue
                with path.open("rb") as handle:
                    handle.seek(offsets[name])
                    chunk = handle.read()
                    offsets[name] = handle.tell()
                for line in chunk.decode("utf-8", errors="replace").splitlines():
                    typer.echo(f"{name} | {line}" if len(files) > 1 else line)
            time.sleep(0.25)
    except KeyboardInterrupt:
        return
