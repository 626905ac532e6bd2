import type { ReactNode } from "react";

import { MessageType } from "../gen/ai/stigmer/agentic/agentexecution/v1/enum_pb";
import type { AgentMessage, ToolCall } from "../gen/ai/stigmer/agentic/agentexecution/v1/status_pb";
import { ToolCallView } from "./ToolCallView";

/**
 * An agent's messages in order, each AI message followed by the tool calls it made (with the
 * stored status and result of each call). Human messages are drawn by the turn (its input),
 * tool messages not at all: their text is the call's result. Calls no message names yet are drawn last, so a running call shows at once.
 */
export function Timeline({
  messages,
  toolCalls,
  ended,
  controls,
}: {
  messages: AgentMessage[];
  toolCalls: ToolCall[];
  ended: boolean;
  /** Per-call actions (the approval panel), drawn in each call's `controls` slot. */
  controls?: (call: ToolCall) => ReactNode;
}) {
  const calls = new Map(toolCalls.map((call) => [call.id, call]));
  const drawn = new Set<string>();
  const items = messages
    .filter((message) => message.type === MessageType.MESSAGE_AI)
    .map((message) => {
      const own = message.toolCalls.map((call) => {
        drawn.add(call.id);
        return calls.get(call.id) ?? call;
      });
      return (
        <div className="timeline-item" key={message.id}>
          {message.content && (
            <div className="text ai" data-testid="agent-text">
              {message.content}
            </div>
          )}
          {own.map((call) => (
            <ToolCallView call={call} ended={ended} key={call.id} controls={controls?.(call)} />
          ))}
        </div>
      );
    });
  const rest = toolCalls.filter((call) => !drawn.has(call.id));
  return (
    <div className="timeline">
      {items}
      {rest.map((call) => (
        <ToolCallView call={call} ended={ended} key={call.id} controls={controls?.(call)} />
      ))}
    </div>
  );
}
