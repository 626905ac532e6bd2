import type { ReactNode } from "react";

import type { ToolCall } from "../gen/ai/stigmer/agentic/agentexecution/v1/status_pb";
import { classOf, toolStatusName } from "../format";
import { Collapsible } from "./Collapsible";

/**
 * One tool call: name, status, arguments, result or error.
 *
 * `controls` is where per-call actions go: the approval panel (approve / edit / reject a call
 * that awaits approval, or the decision once made).
 */
export function ToolCallView({ call, ended, controls }: { call: ToolCall; ended: boolean; controls?: ReactNode }) {
  // A call still pending or running when its turn ended (cancelled, failed) will not finish.
  const stored = toolStatusName(call.status);
  const status = ended && (stored === "pending" || stored === "running" || stored === "awaiting approval") ? "stopped" : stored;
  const args = call.args && Object.keys(call.args).length ? JSON.stringify(call.args, null, 2) : "";
  return (
    <article className={`tool-call status-${classOf(status)}`} aria-label={`tool call ${call.name}`} data-testid="tool-call">
      <header>
        <span className="tool-name">{call.displayName || call.name}</span>
        <span className={`chip chip-${classOf(status)}`} data-testid="tool-status">
          {status}
        </span>
      </header>
      {args && <Collapsible text={args} label="arguments" />}
      {call.result && <Collapsible text={call.result} label="result" />}
      {call.error && <p className="error-text">{call.error}</p>}
      {controls && <div className="tool-controls">{controls}</div>}
    </article>
  );
}
