import { create } from "@bufbuild/protobuf";
import { useState, type ReactNode } from "react";

import { errorText, type Api } from "../api";
import { SessionSchema } from "../gen/ai/stigmer/agentic/session/v1/api_pb";
import { classOf, phaseName, when } from "../format";
import { href } from "../router";
import { useLoad } from "./useLoad";

const PAGE = { pageSize: 200 };

type Column<T> = { title: string; cell: (row: T) => ReactNode };

function Table<T>({ rows, columns, rowKey, empty }: { rows: T[]; columns: Column<T>[]; rowKey: (row: T) => string; empty: string }) {
  if (rows.length === 0) return <p className="muted">{empty}</p>;
  return (
    <table>
      <thead>
        <tr>
          {columns.map((column) => (
            <th key={column.title} scope="col">
              {column.title}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={rowKey(row)}>
            {columns.map((column) => (
              <td key={column.title}>{column.cell(row)}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Filter({ value, onChange, label }: { value: string; onChange: (value: string) => void; label: string }) {
  return (
    <label className="filter">
      {label}
      <input type="search" value={value} onChange={(event) => onChange(event.target.value)} placeholder="name or id" />
    </label>
  );
}

const matches = (needle: string, ...values: (string | undefined)[]) =>
  !needle || values.some((value) => value?.toLowerCase().includes(needle.toLowerCase()));

function Page({ title, error, children }: { title: string; error: string; children: ReactNode }) {
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">{title}</h1>
      {error && (
        <p className="error-box" role="alert">
          {error}
        </p>
      )}
      {children}
    </section>
  );
}

export function AgentsPage({ api }: { api: Api }) {
  const { data, error } = useLoad(() => api.agents.list(PAGE), "all");
  const [filter, setFilter] = useState("");
  const rows = (data?.items ?? []).filter((a) => matches(filter, a.metadata?.name, a.metadata?.id, a.spec?.model));
  return (
    <Page title="Agents" error={error}>
      <Filter value={filter} onChange={setFilter} label="Filter agents" />
      <Table
        rows={rows}
        rowKey={(a) => a.metadata?.id ?? ""}
        empty={data ? "No agents match." : "Loading…"}
        columns={[
          { title: "Name", cell: (a) => a.metadata?.name },
          { title: "Model", cell: (a) => <span className="mono">{a.spec?.model}</span> },
          { title: "Sub-agents", cell: (a) => a.spec?.subAgents.map((s) => s.name).join(", ") },
          { title: "Id", cell: (a) => <span className="mono muted">{a.metadata?.id}</span> },
          { title: "Created", cell: (a) => when(a.metadata?.createdAt) },
        ]}
      />
    </Page>
  );
}

export function InstancesPage({ api }: { api: Api }) {
  const { data, error } = useLoad(() => api.instances.list(PAGE), "all");
  const [filter, setFilter] = useState("");
  const [actionError, setActionError] = useState("");
  const rows = (data?.items ?? []).filter((i) => matches(filter, i.metadata?.name, i.metadata?.id, i.spec?.agentId));

  async function newSession(instanceId: string, name: string) {
    try {
      const session = await api.sessionCommands.create(
        create(SessionSchema, {
          apiVersion: "agentic.stigmer.ai/v1",
          kind: "Session",
          metadata: { name: `${name}-console-${Date.now().toString(36)}` },
          spec: { agentInstanceId: instanceId, subject: "from the console" },
        }),
      );
      window.location.hash = href({ page: "session", id: session.metadata?.id ?? "" });
    } catch (failure) {
      setActionError(errorText(failure));
    }
  }

  return (
    <Page title="Agent instances" error={error || actionError}>
      <Filter value={filter} onChange={setFilter} label="Filter instances" />
      <Table
        rows={rows}
        rowKey={(i) => i.metadata?.id ?? ""}
        empty={data ? "No instances match." : "Loading…"}
        columns={[
          { title: "Name", cell: (i) => i.metadata?.name },
          { title: "Agent", cell: (i) => <span className="mono">{i.spec?.agentId}</span> },
          { title: "Environments", cell: (i) => i.spec?.environmentRefs.map((r) => r.slug).join(", ") },
          { title: "Id", cell: (i) => <span className="mono muted">{i.metadata?.id}</span> },
          {
            title: "",
            cell: (i) => (
              <button type="button" onClick={() => newSession(i.metadata?.id ?? "", i.metadata?.name ?? "session")}>
                New session
              </button>
            ),
          },
        ]}
      />
    </Page>
  );
}

export function SessionsPage({ api }: { api: Api }) {
  const { data, error } = useLoad(() => api.sessions.list(PAGE), "all");
  const instances = useLoad(() => api.instances.list(PAGE), "all");
  const [filter, setFilter] = useState("");
  const [instance, setInstance] = useState("");
  const names = new Map((instances.data?.items ?? []).map((i) => [i.metadata?.id ?? "", i.metadata?.name ?? ""]));
  const rows = (data?.items ?? [])
    .filter((s) => !instance || s.spec?.agentInstanceId === instance)
    .filter((s) => matches(filter, s.metadata?.name, s.metadata?.id, s.spec?.subject))
    .sort((a, b) => Number((b.metadata?.createdAt?.seconds ?? 0n) - (a.metadata?.createdAt?.seconds ?? 0n)));
  return (
    <Page title="Sessions" error={error}>
      <div className="filters">
        <Filter value={filter} onChange={setFilter} label="Filter sessions" />
        <label className="filter">
          Instance
          <select value={instance} onChange={(event) => setInstance(event.target.value)}>
            <option value="">all</option>
            {[...names].map(([id, name]) => (
              <option key={id} value={id}>
                {name}
              </option>
            ))}
          </select>
        </label>
      </div>
      <Table
        rows={rows}
        rowKey={(s) => s.metadata?.id ?? ""}
        empty={data ? "No sessions match. Start one from Instances." : "Loading…"}
        columns={[
          {
            title: "Session",
            cell: (s) => <a href={href({ page: "session", id: s.metadata?.id ?? "" })}>{s.metadata?.name || s.metadata?.id}</a>,
          },
          { title: "Subject", cell: (s) => s.spec?.subject },
          { title: "Instance", cell: (s) => names.get(s.spec?.agentInstanceId ?? "") || s.spec?.agentInstanceId },
          { title: "Id", cell: (s) => <span className="mono muted">{s.metadata?.id}</span> },
          { title: "Created", cell: (s) => when(s.metadata?.createdAt) },
        ]}
      />
    </Page>
  );
}

const PHASES = ["pending", "running", "awaiting approval", "completed", "failed", "cancelled"];

export function ExecutionsPage({ api }: { api: Api }) {
  const { data, error, reload } = useLoad(() => api.executions.list(PAGE), "all");
  const [filter, setFilter] = useState("");
  const [phase, setPhase] = useState("");
  const rows = (data?.items ?? [])
    .filter((e) => !phase || phaseName(e.status?.phase) === phase)
    .filter((e) => matches(filter, e.metadata?.id, e.spec?.sessionId, e.spec?.message))
    .sort((a, b) => Number((b.metadata?.createdAt?.seconds ?? 0n) - (a.metadata?.createdAt?.seconds ?? 0n)));
  return (
    <Page title="Executions" error={error}>
      <div className="filters">
        <Filter value={filter} onChange={setFilter} label="Filter executions" />
        <label className="filter">
          Phase
          <select value={phase} onChange={(event) => setPhase(event.target.value)}>
            <option value="">all</option>
            {PHASES.map((name) => (
              <option key={name}>{name}</option>
            ))}
          </select>
        </label>
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </div>
      <Table
        rows={rows}
        rowKey={(e) => e.metadata?.id ?? ""}
        empty={data ? "No executions match." : "Loading…"}
        columns={[
          { title: "Phase", cell: (e) => <span className={`chip chip-${classOf(phaseName(e.status?.phase))}`} data-testid="execution-phase">{phaseName(e.status?.phase)}</span> },
          { title: "Message", cell: (e) => <span className="clip">{e.spec?.message}</span> },
          {
            title: "Session",
            cell: (e) => <a href={href({ page: "session", id: e.spec?.sessionId ?? "" })} className="mono">{e.spec?.sessionId}</a>,
          },
          { title: "Id", cell: (e) => <span className="mono muted">{e.metadata?.id}</span> },
          { title: "Created", cell: (e) => when(e.metadata?.createdAt) },
        ]}
      />
    </Page>
  );
}
