import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";

import { AgentQueryController } from "./gen/ai/stigmer/agentic/agent/v1/query_pb";
import { AgentExecutionCommandController } from "./gen/ai/stigmer/agentic/agentexecution/v1/command_pb";
import { AgentExecutionQueryController } from "./gen/ai/stigmer/agentic/agentexecution/v1/query_pb";
import { AgentInstanceQueryController } from "./gen/ai/stigmer/agentic/agentinstance/v1/query_pb";
import { SessionCommandController } from "./gen/ai/stigmer/agentic/session/v1/command_pb";
import { SessionQueryController } from "./gen/ai/stigmer/agentic/session/v1/query_pb";

export type Api = ReturnType<typeof makeApi>;

/** Typed clients of the services the console uses, all calling this server with `key`. */
export function makeApi(key: string, onUnauthenticated: () => void) {
  const auth: Interceptor = (next) => async (req) => {
    req.header.set("authorization", `Bearer ${key}`);
    try {
      return await next(req);
    } catch (error) {
      if (ConnectError.from(error).code === Code.Unauthenticated) onUnauthenticated();
      throw error;
    }
  };
  // Same origin: the server that served the console serves the API.
  const transport = createConnectTransport({ baseUrl: window.location.origin, interceptors: [auth] });
  return {
    agents: createClient(AgentQueryController, transport),
    instances: createClient(AgentInstanceQueryController, transport),
    sessions: createClient(SessionQueryController, transport),
    sessionCommands: createClient(SessionCommandController, transport),
    executions: createClient(AgentExecutionQueryController, transport),
    executionCommands: createClient(AgentExecutionCommandController, transport),
  };
}

/** A message for people: the server's own text (it names the field), without the code prefix. */
export function errorText(error: unknown): string {
  const connect = ConnectError.from(error);
  return `${Code[connect.code] ?? "error"}: ${connect.rawMessage}`;
}
