// The status merge rules of backend/libs/python/status (docs/architecture/status-model.md),
// for a watcher: a field the delta sets overwrites, one it leaves unset stays; messages, tool
// calls and sub-agents are upserted by id; `append` content is added; todos merge by key;
// the phase only moves forward. Previews (streamed text ahead of the stored status) are drawn
// after their message's stored content and dropped once the stored content catches up.
import { clone, create } from "@bufbuild/protobuf";

import { type AgentExecution, AgentExecutionSchema } from "./gen/ai/stigmer/agentic/agentexecution/v1/api_pb";
import { ExecutionPhase, MessageType } from "./gen/ai/stigmer/agentic/agentexecution/v1/enum_pb";
import type { AgentExecutionEvent, StatusPreview } from "./gen/ai/stigmer/agentic/agentexecution/v1/io_pb";
import {
  type AgentExecutionStatus,
  type AgentMessage,
  AgentMessageSchema,
  type SubAgentExecution,
} from "./gen/ai/stigmer/agentic/agentexecution/v1/status_pb";

const FINAL = new Set([
  ExecutionPhase.EXECUTION_COMPLETED,
  ExecutionPhase.EXECUTION_FAILED,
  ExecutionPhase.EXECUTION_CANCELLED,
]);
// AWAITING_APPROVAL (6) has the rank of IN_PROGRESS (2): a turn goes from running to
// waiting for a person and back (backend/libs/python/status/.../_phase.py).
const RANK: Record<number, number> = { 0: 0, 1: 1, 2: 2, 3: 3, 4: 3, 5: 3, 6: 2 };

export function isFinal(phase: ExecutionPhase | undefined): boolean {
  return phase !== undefined && FINAL.has(phase);
}

function canMove(current: ExecutionPhase | undefined, proposed: ExecutionPhase): boolean {
  if (proposed === ExecutionPhase.EXECUTION_PHASE_UNSPECIFIED) return false;
  const now = current ?? ExecutionPhase.EXECUTION_PHASE_UNSPECIFIED;
  if (isFinal(now)) return proposed === now;
  return (RANK[proposed] ?? 0) >= (RANK[now] ?? 0);
}

// Fields with explicit presence (`optional` in the protos): set means "not undefined".
const OPTIONAL = new Set(["phase", "error"]);
const UPSERTED = new Set(["messages", "toolCalls", "subAgentExecutions"]);
type Fields = Record<string, unknown>;

function isSet(key: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (OPTIONAL.has(key)) return true;
  if (value === "" || value === 0 || value === 0n || value === false) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object" && value !== null && !("$typeName" in value)) {
    return Object.keys(value).length > 0; // a map
  }
  return true;
}

function mergeFields(stored: Fields, delta: Fields, top: boolean): void {
  for (const [key, value] of Object.entries(delta)) {
    if (key === "$typeName" || !isSet(key, value)) continue;
    if (top && key === "sequence") continue;
    if (key === "append") continue;
    if (key === "phase") {
      if (canMove(stored.phase as ExecutionPhase | undefined, value as ExecutionPhase)) stored.phase = value;
    } else if (key === "content" && delta.append === true) {
      stored.content = String(stored.content ?? "") + String(value);
    } else if (key === "todos") {
      const todos = stored.todos as Record<string, Fields>;
      for (const [id, todo] of Object.entries(value as Record<string, Fields>)) {
        if (todos[id]) mergeFields(todos[id], todo, false);
        else todos[id] = { ...todo };
      }
    } else if (UPSERTED.has(key) && Array.isArray(value)) {
      const list = stored[key] as Fields[];
      for (const item of value as Fields[]) {
        const existing = list.find((candidate) => candidate.id === item.id);
        if (existing) mergeFields(existing, item, false);
        else list.push(structuredCopy(item));
      }
    } else {
      stored[key] = value;
    }
  }
}

function structuredCopy(item: Fields): Fields {
  // An upserted item arrives whole the first time; copy so later merges never touch the event.
  const copy: Fields = { ...item };
  for (const key of UPSERTED) {
    if (Array.isArray(copy[key])) copy[key] = (copy[key] as Fields[]).map(structuredCopy);
  }
  return copy;
}

export function applyDelta(execution: AgentExecution, delta: AgentExecutionStatus): AgentExecution {
  const next = clone(AgentExecutionSchema, execution);
  if (!next.status) return next;
  mergeFields(next.status as unknown as Fields, delta as unknown as Fields, true);
  return next;
}

type PreviewKey = string; // `${subAgentId}\u0000${messageId}`
type Texts = { offset: number; text: string }[];

/** One execution as a watcher sees it: the stored copy plus the previews still ahead of it. */
export type Watched = { execution: AgentExecution; previews: Map<PreviewKey, Texts> };

export function applyEvent(watched: Watched | null, event: AgentExecutionEvent): Watched | null {
  const payload = event.payload;
  if (payload.case === "snapshot") {
    return prune({ execution: payload.value, previews: watched?.previews ?? new Map() });
  }
  if (!watched) return null;
  if (payload.case === "delta") {
    return prune({ execution: applyDelta(watched.execution, payload.value), previews: watched.previews });
  }
  if (payload.case === "preview") return addPreview(watched, payload.value);
  return watched;
}

const codePoints = (text: string) => Array.from(text);

function container(status: AgentExecutionStatus, subId: string): AgentExecutionStatus | SubAgentExecution | undefined {
  return subId ? status.subAgentExecutions.find((sub) => sub.id === subId) : status;
}

function messageOf(status: AgentExecutionStatus, key: PreviewKey): AgentMessage | undefined {
  const [subId = "", messageId = ""] = key.split("\u0000");
  return container(status, subId)?.messages.find((message) => message.id === messageId);
}

function addPreview(watched: Watched, preview: StatusPreview): Watched {
  const previews = new Map(watched.previews);
  for (const text of preview.texts) {
    if (!text.text) continue;
    const key = `${text.subAgentId}\u0000${text.messageId}`;
    const texts = [...(previews.get(key) ?? []), { offset: Number(text.offset), text: text.text }];
    texts.sort((a, b) => a.offset - b.offset);
    previews.set(key, texts);
  }
  return { execution: watched.execution, previews };
}

function prune(watched: Watched): Watched {
  const status = watched.execution.status;
  if (!status || isFinal(status.phase)) return { execution: watched.execution, previews: new Map() };
  const previews = new Map<PreviewKey, Texts>();
  for (const [key, texts] of watched.previews) {
    const stored = codePoints(messageOf(status, key)?.content ?? "").length;
    const kept = texts.filter((t) => t.offset + codePoints(t.text).length > stored);
    if (kept.length) previews.set(key, kept);
  }
  return { execution: watched.execution, previews };
}

/** The execution to draw: the stored copy with each message's previewed continuation. */
export function render(watched: Watched): AgentExecution {
  if (watched.previews.size === 0 || !watched.execution.status) return watched.execution;
  const view = clone(AgentExecutionSchema, watched.execution);
  const status = view.status!;
  for (const [key, texts] of watched.previews) {
    let message = messageOf(status, key);
    const stored = codePoints(message?.content ?? "").length;
    let end = stored;
    let more = "";
    for (const t of texts) {
      const points = codePoints(t.text);
      if (t.offset <= end && end < t.offset + points.length) {
        more += points.slice(end - t.offset).join("");
        end = t.offset + points.length;
      }
    }
    if (!more) continue;
    if (!message) {
      const [subId = "", messageId = ""] = key.split("\u0000");
      const owner = container(status, subId);
      if (!owner) continue;
      message = create(AgentMessageSchema, {
        id: messageId,
        type: MessageType.MESSAGE_AI,
        namespace: "name" in owner ? owner.name : "",
      });
      owner.messages.push(message);
    }
    message.content += more;
  }
  return view;
}
