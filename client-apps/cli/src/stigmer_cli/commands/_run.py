"""`stigmer run` (send a turn and watch it live) and `stigmer cancel`."""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.spec_pb2 import AgentExecutionSpec
from ai.stigmer.agentic.session.v1.api_pb2 import Session
from ai.stigmer.agentic.session.v1.spec_pb2 import SessionSpec
from ai.stigmer.commons.apiresource.environment_pb2 import EnvironmentValue
from stigmer_cli._client import Resources
from stigmer_cli._context import options
from stigmer_cli._errors import CliError
from stigmer_cli._kinds import AGENT, AGENT_INSTANCE, API_VERSION, EXECUTION, SESSION
from stigmer_cli.commands._approvals import (
    ask,
    decide,
    decide_hint,
    edit_in_editor,
    terminal_prompt,
    waiting_calls,
)
from stigmer_cli.commands._output import phase_name, to_dict
from stigmer_cli.live import LiveDisplay, Watcher
from stigmer_status import is_final


class RunOutput(StrEnum):
    TEXT = "text"
    JSON = "json"


EXIT_FAILED = 1
# --no-wait, and the turn waits for approval.
EXIT_AWAITING_APPROVAL = 3
EXIT_CANCELLED = 130
_EXIT_CODES = {
    ExecutionPhase.EXECUTION_COMPLETED: 0,
    ExecutionPhase.EXECUTION_FAILED: EXIT_FAILED,
    ExecutionPhase.EXECUTION_CANCELLED: EXIT_CANCELLED,
}


def run_command(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="An agent instance or an agent (slug or id).")],
    prompt: Annotated[str, typer.Argument(help="The message to send.")],
    session: Annotated[
        str | None, typer.Option("--session", help="Continue this session instead of a new one.")
    ] = None,
    env: Annotated[
        list[str] | None,
        typer.Option("--env", help="K=V or K (value from this shell), this turn only."),
    ] = None,
    secret_env: Annotated[
        list[str] | None,
        typer.Option(
            "--secret-env",
            help="K=V or K (value from this shell) kept secret: redacted in status and logs.",
        ),
    ] = None,
    output: Annotated[
        RunOutput, typer.Option("--output", "-o", help="text (the live view) or json.")
    ] = RunOutput.TEXT,
    write_session_id: Annotated[
        Path | None,
        typer.Option("--write-session-id", help="Write the session id to this file (scripts)."),
    ] = None,
    no_wait: Annotated[
        bool,
        typer.Option(
            "--no-wait",
            help="When a tool call needs approval, print how to decide it and exit 3.",
        ),
    ] = False,
) -> None:
    """Send a turn and show it live; exit 0 completed, 1 failed, 3 waiting for approval
    (--no-wait), 130 cancelled. In a terminal, tool calls that need approval are asked
    about; otherwise the commands that decide them are printed and the run waits."""
    runtime_env = _parse_env(env or [], secret=False, environ=os.environ) | _parse_env(
        secret_env or [], secret=True, environ=os.environ
    )
    resources = options(ctx).resources()
    spec = _turn_spec(resources, target, prompt, session)
    for name, value in runtime_env.items():
        spec.runtime_env[name].CopyFrom(value)  # message-valued maps take no assignment
    created: Any = resources.create(
        EXECUTION, AgentExecution(api_version=API_VERSION, kind=EXECUTION.name, spec=spec)
    )
    if write_session_id is not None:
        write_session_id.write_text(created.spec.session_id + "\n", encoding="utf-8")
    console = Console()
    interactive = output == RunOutput.TEXT and console.is_terminal and sys.stdin.isatty()
    final = _watch(
        resources,
        created.metadata.id,
        console,
        live=output == RunOutput.TEXT,
        approvals=_Approvals(interactive=interactive and not no_wait, no_wait=no_wait),
    )
    if output == RunOutput.JSON:
        console.out(json.dumps(to_dict(final), indent=2))  # secrets masked, as in `get`
    else:
        _print_continuation(console, target, final)
    raise typer.Exit(_EXIT_CODES.get(final.status.phase, EXIT_FAILED))


def _turn_spec(
    resources: Resources, target: str, prompt: str, session_id: str | None
) -> AgentExecutionSpec:
    if not prompt.strip():
        raise CliError("the prompt is empty", fix='pass the message to send: stigmer run demo "hi"')
    instance: Any = resources.by_id(AGENT_INSTANCE, target) or resources.by_slug(
        AGENT_INSTANCE, target
    )
    agent: Any = None
    if instance is None:
        agent = resources.by_id(AGENT, target) or resources.by_slug(AGENT, target)
        if agent is None:
            raise CliError(
                f"no agent instance or agent with id or slug {target!r}",
                fix="list them with `stigmer get instances` / `stigmer get agents`, "
                "or apply manifests with `stigmer apply -f <dir>`",
            )
    if session_id:
        session: Any = resources.find(SESSION, session_id)
        _check_session_target(resources, session, target, instance, agent)
        return AgentExecutionSpec(session_id=session.metadata.id, message=prompt)
    if instance is None:
        # The server opens a session on the agent's default instance.
        return AgentExecutionSpec(agent_id=agent.metadata.id, message=prompt)
    created: Any = resources.create(
        SESSION,
        Session(
            api_version=API_VERSION,
            kind=SESSION.name,
            spec=SessionSpec(agent_instance_id=instance.metadata.id, subject=_subject(prompt)),
        ),
    )
    return AgentExecutionSpec(session_id=created.metadata.id, message=prompt)


def _check_session_target(
    resources: Resources, session: Any, target: str, instance: Any, agent: Any
) -> None:
    """A session continues with its own agent: refuse one that belongs to another target."""
    session_instance = session.spec.agent_instance_id
    if instance is not None and session_instance == instance.metadata.id:
        return
    if agent is not None:
        owner: Any = resources.by_id(AGENT_INSTANCE, session_instance)
        if owner is not None and owner.spec.agent_id == agent.metadata.id:
            return
    raise CliError(
        f"session {session.metadata.id} belongs to agent instance {session_instance}, "
        f"not to {target!r}",
        fix="run it with the session's own instance, or leave out --session for a new one",
    )


class _Approvals:
    """How `run` treats tool calls waiting for approval: ask, or print how to decide."""

    def __init__(self, *, interactive: bool, no_wait: bool) -> None:
        self.interactive = interactive
        self.no_wait = no_wait
        self.seen: set[str] = set()

    def new_calls(self, execution: AgentExecution) -> bool:
        return any(call.id not in self.seen for call in waiting_calls(execution))

    def handle(self, resources: Resources, execution: AgentExecution, console: Console) -> None:
        calls = [call for call in waiting_calls(execution) if call.id not in self.seen]
        self.seen.update(call.id for call in calls)
        if self.interactive:
            decisions = ask(console, calls, prompt=terminal_prompt, edit=edit_in_editor)
            decide(resources, execution.metadata.id, decisions)
            return
        err = Console(stderr=True)
        err.print(f"execution {execution.metadata.id} waits for approval of:")
        for call in calls:
            err.print(f"  {escape(call.id)}  {escape(call.name)} {escape(call.display_name)}")
        err.print("decide with:")
        for line in decide_hint(execution.metadata.id, calls):
            err.print("  " + escape(line), soft_wrap=True)
        if self.no_wait:
            raise typer.Exit(EXIT_AWAITING_APPROVAL)


def _watch(
    resources: Resources,
    execution_id: str,
    console: Console,
    *,
    live: bool,
    approvals: _Approvals,
) -> AgentExecution:
    """Follow to the end, stopping to ask about (or show) calls that wait for approval."""
    display = LiveDisplay(console) if live else None

    def show(execution: AgentExecution) -> None:
        if display is not None:
            display.show(execution)

    watcher = Watcher(resources.channel, resources.address, execution_id, show)
    while True:
        current = _follow(resources, watcher, display, approvals.new_calls)
        if is_final(current.status.phase):
            return current
        approvals.handle(resources, current, console)


def _follow(
    resources: Resources,
    watcher: Watcher,
    display: LiveDisplay | None,
    until: Callable[[AgentExecution], bool],
) -> AgentExecution:
    """Follow until the end or `until`; the first Ctrl-C cancels on the server and keeps
    watching."""
    execution_id = watcher.execution_id
    if display is not None:
        display.start()
    try:
        try:
            return watcher.follow(until)
        except KeyboardInterrupt:
            # stderr, so `-o json` output stays a single JSON document.
            Console(stderr=True).print(
                "[yellow]cancelling the execution (Ctrl-C again to stop waiting)[/]"
            )
            resources.call(
                "cancel the execution",
                lambda: EXECUTION.command_stub(resources.channel).cancel(
                    EXECUTION.id_of(execution_id), timeout=30
                ),
            )
            try:
                return watcher.follow()
            except KeyboardInterrupt:
                raise typer.Exit(EXIT_CANCELLED) from None
    finally:
        if display is not None:
            display.stop()


def _print_continuation(console: Console, target: str, final: AgentExecution) -> None:
    session_id = final.spec.session_id
    phase = phase_name(final.status.phase).lower()
    console.print(f"\nexecution {final.metadata.id} {phase}")
    console.print(f"session   {session_id}")
    continuation = f'stigmer run {shlex.quote(target)} "..." --session {session_id}'
    console.print("continue: " + escape(continuation), soft_wrap=True)


def cancel_command(
    ctx: typer.Context,
    execution: Annotated[str, typer.Argument(help="The execution id.")],
) -> None:
    """Cancel a running execution; it ends CANCELLED."""
    resources = options(ctx).resources()
    cancelled: Any = resources.call(
        "cancel the execution",
        lambda: EXECUTION.command_stub(resources.channel).cancel(
            EXECUTION.id_of(execution), timeout=30
        ),
    )
    Console().print(
        f"execution {cancelled.metadata.id} cancel requested "
        f"(phase {phase_name(cancelled.status.phase)})"
    )


def _parse_env(
    pairs: list[str], *, secret: bool, environ: Mapping[str, str]
) -> dict[str, EnvironmentValue]:
    """NAME=VALUE, or NAME alone to take the value from this shell (kept out of `ps`)."""
    result = {}
    option = "--secret-env" if secret else "--env"
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not name:
            raise CliError(f"{option} {pair!r}: expected NAME=VALUE or NAME")
        if not sep:
            if name not in environ:
                raise CliError(
                    f"{option} {name}: {name} is not set in this shell",
                    fix=f"export {name}=... first, or pass {option} {name}=VALUE",
                )
            value = environ[name]
        result[name] = EnvironmentValue(value=value, is_secret=secret)
    return result


def _subject(prompt: str) -> str:
    line = prompt.strip().splitlines()[0]
    return line if len(line) <= 60 else line[:57] + "..."
