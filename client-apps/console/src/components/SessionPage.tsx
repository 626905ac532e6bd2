import { create } from "@bufbuild/protobuf";
import { useState, type FormEvent, type KeyboardEvent } from "react";

import { errorText, type Api } from "../api";
import { type AgentExecution, AgentExecutionSchema } from "../gen/ai/stigmer/agentic/agentexecution/v1/api_pb";
import { when } from "../format";
import { ExecutionView } from "./ExecutionView";
import { useLoad } from "./useLoad";

/** A session: its turns, oldest first, and a box to send the next one. */
export function SessionPage({ api, id }: { api: Api; id: string }) {
  const session = useLoad(() => api.sessions.get({ value: id }), id);
  const turns = useLoad(() => api.executions.listBySession({ sessionId: id, pageSize: 200 }), id);
  const [sent, setSent] = useState<AgentExecution[]>([]);
  const [text, setText] = useState("");
  const [sending, setSending] = useState(false);
  const [sendError, setSendError] = useState("");

  const known = turns.data?.items ?? [];
  const knownIds = new Set(known.map((turn) => turn.metadata?.id));
  const all = [...known, ...sent.filter((turn) => !knownIds.has(turn.metadata?.id))].sort((a, b) =>
    (a.metadata?.id ?? "").localeCompare(b.metadata?.id ?? ""),
  );

  async function send(event?: FormEvent) {
    event?.preventDefault();
    const message = text.trim();
    if (!message || sending) return;
    setSending(true);
    setSendError("");
    try {
      const created = await api.executionCommands.create(
        create(AgentExecutionSchema, {
          apiVersion: "agentic.stigmer.ai/v1",
          kind: "AgentExecution",
          spec: { sessionId: id, message },
        }),
      );
      setSent((previous) => [...previous, created]);
      setText("");
    } catch (failure) {
      setSendError(errorText(failure));
    } finally {
      setSending(false);
    }
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    // Enter sends, Shift+Enter is a new line (as in chat tools).
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      void send();
      event.preventDefault();
    }
  }

  const meta = session.data?.metadata;
  return (
    <section aria-labelledby="page-title" className="session-page">
      <h1 id="page-title">{meta?.name || id}</h1>
      <p className="muted">
        <span className="mono">{id}</span> · instance <span className="mono">{session.data?.spec?.agentInstanceId}</span> ·{" "}
        {when(meta?.createdAt)}
      </p>
      {(session.error || turns.error) && (
        <p className="error-box" role="alert">
          {session.error || turns.error}
        </p>
      )}
      <div className="turns">
        {all.map((turn) => (
          <ExecutionView api={api} initial={turn} key={turn.metadata?.id} />
        ))}
        {turns.data && all.length === 0 && <p className="muted">No turns yet: send the first one below.</p>}
      </div>
      <form className="composer" onSubmit={send} aria-label="send a turn">
        <label htmlFor="turn-text">Message</label>
        <textarea
          id="turn-text"
          rows={3}
          value={text}
          onChange={(event) => setText(event.target.value)}
          onKeyDown={onKeyDown}
          placeholder="Ask the agent… (Enter sends, Shift+Enter for a new line)"
        />
        <div className="composer-actions">
          {sendError && (
            <span className="error-text" role="alert">
              {sendError}
            </span>
          )}
          <button type="submit" disabled={sending || !text.trim()}>
            {sending ? "Sending…" : "Send"}
          </button>
        </div>
      </form>
    </section>
  );
}
