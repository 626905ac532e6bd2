"""`stigmer apply`, `get`, `delete`, `sessions`, `executions`."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.console import Console

from ai.stigmer.agentic.agentexecution.v1.io_pb2 import ListAgentExecutionsBySessionRequest
from stigmer_cli._context import options
from stigmer_cli._kinds import EXECUTION, SESSION, kind_named
from stigmer_cli.commands._output import OutputFormat, print_resources
from stigmer_cli.manifest import Action, apply, load

OutputOption = Annotated[OutputFormat, typer.Option("--output", "-o", help="table, yaml or json.")]
_ACTION_STYLE = {Action.CREATED: "green", Action.UPDATED: "yellow", Action.UNCHANGED: "dim"}


def apply_command(
    ctx: typer.Context,
    files: Annotated[
        list[Path],
        typer.Option("--filename", "-f", help="A manifest file or a directory of them."),
    ],
) -> None:
    """Create or update resources from YAML manifests, by slug."""
    documents = load(files)  # every file validated before anything is sent
    outcomes = apply(documents, options(ctx).resources())
    console = Console()
    for outcome in outcomes:
        style = _ACTION_STYLE[outcome.action]
        console.print(
            f"{outcome.kind.lower()}/{outcome.slug} [{style}]{outcome.action.value}[/] "
            f"[dim]({outcome.id})[/]"
        )


def get_command(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="agents, skills, environments, instances, ...")],
    name: Annotated[str | None, typer.Argument(help="A slug or an id.")] = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """List resources of a kind, or show one."""
    resolved = kind_named(kind)
    resources = options(ctx).resources()
    items = [resources.find(resolved, name)] if name else resources.list(resolved)
    print_resources(Console(), resolved, items, output)


def delete_command(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="agents, skills, environments, instances, ...")],
    name: Annotated[str, typer.Argument(help="A slug or an id.")],
) -> None:
    """Delete one resource."""
    resolved = kind_named(kind)
    resources = options(ctx).resources()
    found = resources.find(resolved, name)
    resources.delete(resolved, cast(Any, found).metadata.id)
    Console().print(f"{resolved.name.lower()}/{name} deleted")


def sessions_command(ctx: typer.Context, output: OutputOption = OutputFormat.TABLE) -> None:
    """List sessions."""
    print_resources(Console(), SESSION, options(ctx).resources().list(SESSION), output)


def executions_command(
    ctx: typer.Context,
    session: Annotated[str | None, typer.Option("--session", help="Only this session.")] = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """List executions (turns) with their phase and age."""
    resources = options(ctx).resources()
    if session is None:
        items = resources.list(EXECUTION)
    else:
        stub = EXECUTION.query_stub(resources.channel)
        items, token = [], ""
        while True:
            request = ListAgentExecutionsBySessionRequest(
                session_id=session, page_size=200, page_token=token
            )
            page: Any = resources.call(
                "list executions", functools.partial(stub.listBySession, request)
            )
            items.extend(page.items)
            token = page.next_page_token
            if not token:
                break
    print_resources(Console(), EXECUTION, items, output)
