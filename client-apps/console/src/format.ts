import type { Timestamp } from "@bufbuild/protobuf/wkt";

import { ApprovalDecisionType } from "./gen/ai/stigmer/agentic/agent/v1/spec_pb";
import { ExecutionPhase, TodoStatus, ToolCallStatus } from "./gen/ai/stigmer/agentic/agentexecution/v1/enum_pb";
import type { Usage } from "./gen/ai/stigmer/agentic/agentexecution/v1/status_pb";

export function when(stamp: Timestamp | undefined): string {
  if (!stamp) return "";
  const date = new Date(Number(stamp.seconds) * 1000 + Math.floor(stamp.nanos / 1e6));
  return date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

export function phaseName(phase: ExecutionPhase | undefined): string {
  switch (phase) {
    case ExecutionPhase.EXECUTION_PENDING:
      return "pending";
    case ExecutionPhase.EXECUTION_IN_PROGRESS:
      return "running";
    case ExecutionPhase.EXECUTION_COMPLETED:
      return "completed";
    case ExecutionPhase.EXECUTION_FAILED:
      return "failed";
    case ExecutionPhase.EXECUTION_CANCELLED:
      return "cancelled";
    case ExecutionPhase.EXECUTION_AWAITING_APPROVAL:
      return "awaiting approval";
    default:
      return "unknown";
  }
}

export function toolStatusName(status: ToolCallStatus): string {
  switch (status) {
    case ToolCallStatus.TOOL_CALL_PENDING:
      return "pending";
    case ToolCallStatus.TOOL_CALL_RUNNING:
      return "running";
    case ToolCallStatus.TOOL_CALL_COMPLETED:
      return "completed";
    case ToolCallStatus.TOOL_CALL_FAILED:
      return "failed";
    case ToolCallStatus.TOOL_CALL_AWAITING_APPROVAL:
      return "awaiting approval";
    case ToolCallStatus.TOOL_CALL_REJECTED:
      return "rejected";
    default:
      return "unknown";
  }
}

export function todoMark(status: TodoStatus): string {
  switch (status) {
    case TodoStatus.TODO_COMPLETED:
      return "☑";
    case TodoStatus.TODO_IN_PROGRESS:
      return "◐";
    case TodoStatus.TODO_CANCELLED:
      return "☒";
    default:
      return "☐";
  }
}

export function todoName(status: TodoStatus): string {
  switch (status) {
    case TodoStatus.TODO_COMPLETED:
      return "completed";
    case TodoStatus.TODO_IN_PROGRESS:
      return "in progress";
    case TodoStatus.TODO_CANCELLED:
      return "cancelled";
    default:
      return "pending";
  }
}

export function usageText(usage: Usage | undefined): string {
  if (!usage || usage.totalTokens === 0n) return "";
  return `${usage.inputTokens} in · ${usage.outputTokens} out · ${usage.totalTokens} tokens`;
}

/** A status name as a CSS class suffix ("awaiting approval" -> "awaiting-approval"). */
export function classOf(name: string): string {
  return name.replace(/ /g, "-");
}

export function decisionName(decision: ApprovalDecisionType): string {
  switch (decision) {
    case ApprovalDecisionType.APPROVAL_DECISION_APPROVE:
      return "approved";
    case ApprovalDecisionType.APPROVAL_DECISION_EDIT:
      return "edited";
    case ApprovalDecisionType.APPROVAL_DECISION_REJECT:
      return "rejected";
    default:
      return "";
  }
}
