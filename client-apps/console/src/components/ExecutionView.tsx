import { create } from "@bufbuild/protobuf";
import { useEffect, useState } from "react";

import { errorText, type Api } from "../api";
import { type AgentExecution } from "../gen/ai/stigmer/agentic/agentexecution/v1/api_pb";
import { AgentExecutionIdSchema } from "../gen/ai/stigmer/agentic/agentexecution/v1/io_pb";
import type { SubAgentExecution } from "../gen/ai/stigmer/agentic/agentexecution/v1/status_pb";
import { phaseName, todoMark, todoName, usageText, when } from "../format";
import { applyEvent, isFinal, render, type Watched } from "../status";
import { Timeline } from "./Timeline";

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
    (async () => {
      try {
        for await (const event of api.executions.subscribe({ executionId: id }, { signal: abort.signal })) {
          setWatched((current) => applyEvent(current, event) ?? current);
        }
      } catch (error) {
        if (!abort.signal.aborted) setStreamError(errorText(error));
      }
    })();
    return () => abort.abort();
  }, [api, id, startedFinal]);

  const execution = render(watched);
  const status = execution.status;
  const phase = phaseName(status?.phase);
  const running = !isFinal(status?.phase);

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
        <span className={`chip chip-${phase}`} data-testid="turn-phase">
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
      <Timeline messages={status?.messages ?? []} toolCalls={status?.toolCalls ?? []} ended={!running} />
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
        <SubAgentView sub={sub} ended={!running} key={sub.id} />
      ))}
      {status?.error && (
        <p className="error-box" role="alert" data-testid="turn-error">
          {status.error}
        </p>
      )}
      {streamError && (
        <p className="error-box" role="alert">
          {streamError}
        </p>
      )}
      {running && <p className="muted working" aria-live="polite">working…</p>}
    </section>
  );
}

function SubAgentView({ sub, ended }: { sub: SubAgentExecution; ended: boolean }) {
  const phase = phaseName(sub.phase);
  return (
    <section className="sub-agent" aria-label={`sub-agent ${sub.name}`} data-testid="sub-agent">
      <header>
        <span className="tool-name">sub-agent {sub.name}</span>
        <span className={`chip chip-${phase}`}>{phase}</span>
        <span className="usage">{usageText(sub.usage)}</span>
      </header>
      {sub.input && <div className="text human">{sub.input}</div>}
      <Timeline messages={sub.messages} toolCalls={sub.toolCalls} ended={ended || isFinal(sub.phase)} />
      {sub.result && !sub.messages.some((message) => message.content === sub.result) && (
        <div className="text ai">{sub.result}</div>
      )}
      {sub.error && <p className="error-text">{sub.error}</p>}
    </section>
  );
}
