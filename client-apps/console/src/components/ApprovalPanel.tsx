import { create } from "@bufbuild/protobuf";
import type { JsonObject } from "@bufbuild/protobuf";
import { useState, type FormEvent } from "react";

import { errorText, type Api } from "../api";
import { decisionName, when } from "../format";
import { ApprovalDecisionType, ApprovalTimeoutAction } from "../gen/ai/stigmer/agentic/agent/v1/spec_pb";
import { ToolCallStatus } from "../gen/ai/stigmer/agentic/agentexecution/v1/enum_pb";
import { ToolCallDecisionsSchema } from "../gen/ai/stigmer/agentic/agentexecution/v1/io_pb";
import type { ToolCall } from "../gen/ai/stigmer/agentic/agentexecution/v1/status_pb";
import { Collapsible } from "./Collapsible";

type Mode = "buttons" | "edit" | "reject";

/**
 * A tool call's approval, drawn in ToolCallView's `controls` slot: the decision once made
 * (who, when, what), or, while the call waits, the decisions its rule allows.
 */
export function ApprovalPanel({
  api,
  executionId,
  call,
  ended,
}: {
  api: Api;
  executionId: string;
  call: ToolCall;
  /** The turn (or its sub-agent) ended: a call still waiting can no longer be decided. */
  ended: boolean;
}) {
  const approval = call.approval;
  if (!approval) return null;
  if (approval.decision !== ApprovalDecisionType.APPROVAL_DECISION_TYPE_UNSPECIFIED) {
    const edited = approval.editedArgs ? JSON.stringify(approval.editedArgs, null, 2) : "";
    return (
      <>
        <p className="approval-decided" data-testid="approval-decided">
          <strong>{decisionName(approval.decision)}</strong> by <span className="mono">{approval.decidedBy}</span>{" "}
          at {when(approval.decidedAt)}
          {approval.message && <span> · “{approval.message}”</span>}
        </p>
        {edited && <Collapsible text={edited} label="edited arguments" />}
      </>
    );
  }
  if (ended || call.status !== ToolCallStatus.TOOL_CALL_AWAITING_APPROVAL) return null;
  return <DecisionForm api={api} executionId={executionId} call={call} />;
}

function DecisionForm({ api, executionId, call }: { api: Api; executionId: string; call: ToolCall }) {
  const allowed = new Set(call.approval?.allowedDecisions ?? []);
  const [mode, setMode] = useState<Mode>("buttons");
  // The texts survive a refused decision and a switch between Edit and Reject.
  const [argsText, setArgsText] = useState(() => JSON.stringify(call.args ?? {}, null, 2));
  const [message, setMessage] = useState("");
  const [error, setError] = useState("");
  const [sending, setSending] = useState(false);
  // Sent and accepted: the buttons stay disabled until the turn's stream shows the decision.
  const [sent, setSent] = useState(false);

  async function decide(type: ApprovalDecisionType, args?: JsonObject, text = "") {
    setSending(true);
    setError("");
    try {
      await api.executionCommands.decide(
        create(ToolCallDecisionsSchema, {
          executionId,
          decisions: [{ toolCallId: call.id, type, args, message: text }],
        }),
      );
      setSent(true);
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setSending(false);
    }
  }

  function submitEdit(event: FormEvent) {
    event.preventDefault();
    let parsed: unknown;
    try {
      parsed = JSON.parse(argsText);
    } catch (failure) {
      setError(`arguments: not valid JSON (${failure instanceof Error ? failure.message : String(failure)})`);
      return;
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      setError("arguments: expected a JSON object, like {\"command\": \"ls\"}");
      return;
    }
    void decide(ApprovalDecisionType.APPROVAL_DECISION_EDIT, parsed as JsonObject);
  }

  function submitReject(event: FormEvent) {
    event.preventDefault();
    void decide(ApprovalDecisionType.APPROVAL_DECISION_REJECT, undefined, message.trim());
  }

  const busy = sending || sent;
  const label = `decision on ${call.name}`;
  return (
    <div className="approval" role="group" aria-label={label} data-testid="approval">
      <div className="approval-buttons">
        <span className="muted" data-testid="approval-prompt">
          {sent ? "Decision sent; the turn goes on…" : `Waiting for your decision${deadline(call)}:`}
        </span>
        {allowed.has(ApprovalDecisionType.APPROVAL_DECISION_APPROVE) && (
          <button type="button" disabled={busy} onClick={() => void decide(ApprovalDecisionType.APPROVAL_DECISION_APPROVE)}>
            Approve
          </button>
        )}
        {allowed.has(ApprovalDecisionType.APPROVAL_DECISION_EDIT) && (
          <button type="button" className="secondary" disabled={busy} aria-expanded={mode === "edit"} onClick={() => setMode(mode === "edit" ? "buttons" : "edit")}>
            Edit
          </button>
        )}
        {allowed.has(ApprovalDecisionType.APPROVAL_DECISION_REJECT) && (
          <button type="button" className="danger" disabled={busy} aria-expanded={mode === "reject"} onClick={() => setMode(mode === "reject" ? "buttons" : "reject")}>
            Reject
          </button>
        )}
      </div>
      {mode === "edit" && (
        <form className="approval-form" onSubmit={submitEdit} aria-label={`edit the arguments of ${call.name}`}>
          <label htmlFor={`args-${call.id}`}>Arguments (JSON) the call runs with</label>
          <textarea
            id={`args-${call.id}`}
            className="mono"
            rows={Math.min(12, argsText.split("\n").length + 1)}
            value={argsText}
            spellCheck={false}
            onChange={(event) => setArgsText(event.target.value)}
            // Opened by the user's own click: the field takes the focus for the keyboard.
            autoFocus
          />
          <div className="approval-actions">
            <button type="submit" disabled={busy}>
              Run with these arguments
            </button>
          </div>
        </form>
      )}
      {mode === "reject" && (
        <form className="approval-form" onSubmit={submitReject} aria-label={`reject ${call.name}`}>
          <label htmlFor={`reason-${call.id}`}>Why (the agent reads this)</label>
          <input
            id={`reason-${call.id}`}
            value={message}
            onChange={(event) => setMessage(event.target.value)}
            // Opened by the user's own click: the field takes the focus for the keyboard.
            autoFocus
          />
          <div className="approval-actions">
            <button type="submit" className="danger" disabled={busy}>
              Reject the call
            </button>
          </div>
        </form>
      )}
      {error && (
        <p className="error-box" role="alert" data-testid="approval-error">
          {error}
        </p>
      )}
    </div>
  );
}

/** " (until <time>, then rejected)" when the call's rule has a timeout, else "". */
function deadline(call: ToolCall): string {
  const approval = call.approval;
  if (!approval?.expiresAt) return "";
  const then = approval.onTimeout === ApprovalTimeoutAction.APPROVAL_TIMEOUT_FAIL ? "the turn fails" : "rejected";
  return ` (until ${when(approval.expiresAt)}, then ${then})`;
}
