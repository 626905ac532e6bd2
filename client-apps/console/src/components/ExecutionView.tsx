import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { useEffect, useState, type ReactNode } from "react";

import { errorText, type Api } from "../api";
import { type AgentExecution } from "../gen/ai/stigmer/agentic/agentexecution/v1/api_pb";
import { AgentExecutionIdSchema } from "../gen/ai/stigmer/agentic/agentexecution/v1/io_pb";
import { ExecutionPhase } from "../gen/ai/stigmer/agentic/agentexecution/v1/enum_pb";
import type { SubAgentExecution, ToolCall } from "../gen/ai/stigmer/agentic/agentexecution/v1/status_pb";
import { classOf, phaseName, todoMark, todoName, usageText, when } from "../format";
import { applyEvent, isFinal, render, type Watched } from "../status";
import { ApprovalPanel } from "./ApprovalPanel";
import { Timeline } from "./Timeline";

// A stream lost to a restarting or unreachable server is opened again, from the last
// sequence seen (the server then sends only what was missed), after 1, 2, 4, then 5 s.
const GIVE_UP_AFTER = 30;
const FINAL_ERRORS = new Set([Code.Unauthenticated, Code.PermissionDenied, Code.NotFound, Code.InvalidArgument]);

async function watch(
  api: Api,
  id: string,
  signal: AbortSignal,
  setWatched: (update: (current: Watched) => Watched) => void,
  setStreamError: (message: string) => void,
) {
  let after = 0n;
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      for await (const event of api.executions.subscribe({ executionId: id, afterSequence: after }, { signal })) {
        attempt = 0;
        setStreamError("");
        if (event.payload.case !== "preview") after = event.sequence;
        setWatched((current) => applyEvent(current, event) ?? current);
      }
      return; // the server ends the stream when the turn has ended
    } catch (error) {
      if (signal.aborted) return;
      const failure = ConnectError.from(error);
      if (FINAL_ERRORS.has(failure.code) || attempt >= GIVE_UP_AFTER) {
        setStreamError(errorText(error));
        return;
      }
      setStreamError(`${errorText(error)} (reconnecting…)`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000 * 2 ** attempt, 5000)));
    }
  }
}

/** A turn: the user's message, then what the agent did, live until the turn ends. */
export function ExecutionView({ api, initial }: { api: Api; initial: AgentExecution }) {
  const [watched, setWatched] = useState<Watched>({ execution: initial, previews: new Map() });
  const [streamError, setStreamError] = useState("");
  const [cancelling, setCancelling] = useState(false);
  const id = initial.metadata?.id ?? "";
  const startedFinal = isFinal(initial.status?.phase);

  useEffect(() => {
    if (startedFinal) return;
    const abort = new AbortController();
    void watch(api, id, abort.signal, setWatched, setStreamError);
    return () => abort.abort();
  }, [api, id, startedFinal]);

  const execution = render(watched);
  const status = execution.status;
  const phase = phaseName(status?.phase);
  const running = !isFinal(status?.phase);
  const waiting = status?.phase === ExecutionPhase.EXECUTION_AWAITING_APPROVAL;
  const approvals = (call: ToolCall, ended: boolean) => (
    <ApprovalPanel api={api} executionId={id} call={call} ended={ended} />
  );

  async function cancel() {
    setCancelling(true);
    try {
      await api.executionCommands.cancel(create(AgentExecutionIdSchema, { value: id }));
    } catch (error) {
      setStreamError(errorText(error));
    } finally {
      setCancelling(false);
    }
  }

  const todos = Object.values(status?.todos ?? {});
  return (
    <section className="turn" aria-label={`turn ${id}`} data-testid="turn" data-phase={phase}>
      <header className="turn-header">
        <span className={`chip chip-${classOf(phase)}`} data-testid="turn-phase">
          {phase}
        </span>
        <span className="muted mono">{id}</span>
        <span className="muted">{when(status?.startedAt ?? execution.metadata?.createdAt)}</span>
        <span className="usage" data-testid="usage">
          {usageText(status?.usage)}
        </span>
        {running && (
          <button type="button" className="danger" onClick={cancel} disabled={cancelling} data-testid="cancel">
            {cancelling ? "Cancelling…" : "Cancel"}
          </button>
        )}
      </header>
      <div className="text human" data-testid="user-message">
        {execution.spec?.message}
      </div>
      <Timeline messages={status?.messages ?? []} toolCalls={status?.toolCalls ?? []} ended={!running} controls={(call) => approvals(call, !running)} />
      {todos.length > 0 && (
        <section className="todos" aria-label="todos" data-testid="todos">
          <h3>Todos</h3>
          <ul>
            {todos.map((todo) => (
              <li key={todo.id} className={`todo todo-${todoName(todo.status).replace(" ", "-")}`}>
                <span aria-hidden="true">{todoMark(todo.status)}</span> {todo.content}
                <span className="sr-only"> ({todoName(todo.status)})</span>
              </li>
            ))}
          </ul>
        </section>
      )}
      {(status?.subAgentExecutions ?? []).map((sub) => (
        <SubAgentView sub={sub} ended={!running} controls={approvals} key={sub.id} />
      ))}
      {status?.error && (
        <p className="error-box" role="alert" data-testid="turn-error">
          {status.error}
        </p>
      )}
      {streamError && (
        <p className="error-box" role="alert" data-testid="stream-error">
          {streamError}
        </p>
      )}
      {running && (
        <p className="muted working" aria-live="polite">
          {waiting ? "waiting for a decision on a tool call…" : "working…"}
        </p>
      )}
    </section>
  );
}

function SubAgentView({
  sub,
  ended,
  controls,
}: {
  sub: SubAgentExecution;
  ended: boolean;
  controls: (call: ToolCall, ended: boolean) => ReactNode;
}) {
  const phase = phaseName(sub.phase);
  return (
    <section className="sub-agent" aria-label={`sub-agent ${sub.name}`} data-testid="sub-agent">
      <header>
        <span className="tool-name">sub-agent {sub.name}</span>
        <span className={`chip chip-${classOf(phase)}`}>{phase}</span>
        <span className="usage">{usageText(sub.usage)}</span>
      </header>
      {sub.input && <div className="text human">{sub.input}</div>}
      <Timeline
        messages={sub.messages}
        toolCalls={sub.toolCalls}
        ended={ended || isFinal(sub.phase)}
        controls={(call) => controls(call, ended || isFinal(sub.phase))}
      />
      {sub.result && !sub.messages.some((message) => message.content === sub.result) && (
        <div className="text ai">{sub.result}</div>
      )}
      {sub.error && <p className="error-text">{sub.error}</p>}
    </section>
  );
}
