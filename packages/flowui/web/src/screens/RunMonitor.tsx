// A run, live: the DAG coloured as events arrive (read from the SSE stream), progress, a
// timeline of attempts, a task's log following live, outputs, errors, annotations and
// anomalies, and the control buttons. Events are applied in batches, once per animation
// frame, so a 20,000-task run does not re-render per event.
import { useEffect, useMemo, useRef, useState } from "react";
import { ApiError, post, query, type RunDefinition, type RunEvent } from "../api";
import { DagView } from "../graph/DagView";
import { href, navigate } from "../router";
import { applyAnnotations, applyEvents, emptyView, type Annotation, type RunView } from "../runState";
import { openStream } from "../sse";
import { useApi } from "../useApi";
import type { RunSummary } from "./shapes";
import { Timeline } from "./Timeline";

interface RunDetail {
  summary: RunSummary;
  params: Record<string, unknown>;
  paused: boolean;
  tasks: Record<string, { status: string; attempts: number; error?: string | null; output?: unknown }>;
}

export function RunMonitor({ runId }: { runId: string }) {
  const run = useApi<RunDetail>(`/runs/${encodeURIComponent(runId)}`);
  // The run's DAG: the definition it was started with (by its definition_hash), never the
  // workflow's newest version, which may have other tasks; a run without one shows its task states.
  const workflowName = run.data?.summary.workflow ?? null;
  const definition = useApi<RunDefinition>(`/runs/${encodeURIComponent(runId)}/definition`);
  const tasks = useMemo(() => {
    if (definition.data) return definition.data.dag.tasks;
    return Object.keys(run.data?.tasks ?? {}).map((name) => ({ name, depends_on: [] }));
  }, [run.data, definition.data]);
  const [view, setView] = useState<RunView>(emptyView);
  const [stream, setStream] = useState("connecting");
  const [selected, setSelected] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);
  const pendingEvents = useRef<RunEvent[]>([]);
  const pendingAnnotations = useRef<Annotation[]>([]);

  useEffect(() => {
    setView(emptyView());
    let frame = 0;
    const flush = () => {
      frame = 0;
      const events = pendingEvents.current;
      const annotations = pendingAnnotations.current;
      pendingEvents.current = [];
      pendingAnnotations.current = [];
      setView((current) => applyAnnotations(applyEvents(current, events), annotations));
    };
    const close = openStream(
      `/runs/${encodeURIComponent(runId)}/events/stream`,
      (message) => {
        if (message.event !== "run_event" && message.event !== "annotation") return;
        let parsed: unknown;
        try {
          parsed = JSON.parse(message.data);
        } catch {
          return;
        }
        if (message.event === "run_event") pendingEvents.current.push(parsed as RunEvent);
        else pendingAnnotations.current.push(parsed as Annotation);
        if (!frame) frame = requestAnimationFrame(flush);
      },
      setStream,
    );
    return () => {
      close();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [runId, generation]);

  // Until the stream's first batch: the statuses the run's record has (memoised: a new object
  // per render would rebuild every node of the DAG).
  const storedStatuses = useMemo(() => Object.fromEntries(Object.entries(run.data?.tasks ?? {}).map(([name, state]) => [name, state.status])), [run.data]);
  if (run.error) return <p className="error">Could not load run {runId}: {run.error}</p>;
  if (!run.data) return <p>Loading…</p>;
  const status = view.lastSeq ? view.status : run.data.summary.status;
  const statuses = view.lastSeq ? view.tasks : storedStatuses;
  const finishedTasks = Object.values(statuses).filter((value) => ["succeeded", "failed", "skipped", "cancelled"].includes(value)).length;
  const total = tasks.length || Object.keys(statuses).length;
  const anomalies = view.annotations.filter((annotation) => annotation.kind === "anomaly");
  return (
    <section>
      <h1>
        Run <code>{runId}</code> of <a href={href("workflows", workflowName ?? "")}>{workflowName}</a>{" "}
        <span id="run-status" className={`badge status-${status}`} data-status={status}>
          {status}
          {view.paused ? " (paused)" : ""}
        </span>
      </h1>
      {definition.data && (
        <p id="run-definition" className="muted" data-definition={definition.data.definition}>
          Started from definition <code>{definition.data.definition.slice(0, 12)}</code> ({definition.data.dag.tasks.length} tasks)
        </p>
      )}
      <Controls
        runId={runId}
        finished={["succeeded", "failed", "cancelled"].includes(status)}
        paused={view.paused}
        onRestarted={() => {
          run.reload();
          setGeneration((value) => value + 1);
        }}
      />
      <Waiting runId={runId} waiting={view.waiting} />
      <div className="progress" title={`${finishedTasks} of ${total} tasks finished`}>
        <progress id="run-progress" max={Math.max(total, 1)} value={finishedTasks} /> {finishedTasks} / {total} tasks
        <span className="muted"> · live: {stream}</span>
      </div>
      <div className="columns">
        <div className="wide">
          <DagView tasks={tasks} statuses={statuses} onSelect={setSelected} />
        </div>
        <div className="side">
          <TaskPanel runId={runId} task={selected} status={selected ? statuses[selected] : undefined} output={selected ? view.outputs[selected] : undefined} live={!["succeeded", "failed", "cancelled"].includes(status)} />
        </div>
      </div>
      <h2>Timeline</h2>
      <Timeline attempts={view.attempts} start={view.started} end={view.finished} onSelect={setSelected} />
      {view.errors.length > 0 && (
        <>
          <h2>Errors</h2>
          <ul className="errors">
            {view.errors.map((error) => (
              <li key={`${error.task}#${error.attempt}`}>
                <button className="link" onClick={() => setSelected(error.task)}>
                  {error.task}
                </button>{" "}
                (attempt {error.attempt}): <code>{error.error}</code>
              </li>
            ))}
          </ul>
        </>
      )}
      <h2>Annotations and anomalies</h2>
      {view.annotations.length === 0 ? (
        <p className="muted">None.</p>
      ) : (
        <ul className="annotations">
          {view.annotations.map((annotation) => (
            <li key={annotation.number} className={anomalies.includes(annotation) ? "anomaly" : ""}>
              <b>{annotation.kind}</b>
              {annotation.task ? (
                <>
                  {" on "}
                  <bdi>{annotation.task}</bdi>
                </>
              ) : null}{" "}
              by <bdi>{annotation.author ?? "?"}</bdi>: <code>{JSON.stringify(annotation.payload)}</code>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Controls({ runId, finished, paused, onRestarted }: { runId: string; finished: boolean; paused: boolean; onRestarted: () => void }) {
  const [message, setMessage] = useState<string | null>(null);
  const path = `/runs/${encodeURIComponent(runId)}`;
  async function act(label: string, action: string, body: Record<string, unknown> = {}) {
    setMessage(`${label}…`);
    try {
      const reply = await post<Record<string, unknown>>(`${path}/${action}`, body);
      const next = (reply?.run_id as string | undefined) ?? undefined;
      setMessage(`${label}: requested`);
      if (next && next !== runId) navigate("runs", next);
      else if (action === "retry" || action === "resume") onRestarted();
    } catch (error) {
      setMessage(`${label} failed: ${error instanceof ApiError ? error.message : String(error)}`);
    }
  }
  return (
    <div className="controls">
      <button id="cancel-run" disabled={finished} onClick={() => window.confirm("Cancel this run?") && act("Cancel", "cancel", { reason: "cancelled from the web UI" })}>
        Cancel
      </button>
      {paused ? (
        <button id="unpause-run" disabled={finished} onClick={() => act("Unpause", "unpause")}>
          Unpause
        </button>
      ) : (
        <button id="pause-run" disabled={finished} onClick={() => act("Pause", "pause")}>
          Pause
        </button>
      )}
      <button
        id="signal-run"
        disabled={finished}
        onClick={() => {
          const name = window.prompt("Signal name");
          if (!name) return;
          const payload = window.prompt("Payload (JSON, optional)") ?? "";
          let value: unknown = null;
          try {
            value = payload ? JSON.parse(payload) : null;
          } catch {
            value = payload;
          }
          void act("Signal", "signal", { name, payload: value });
        }}
      >
        Signal…
      </button>
      <button
        id="approve-run"
        disabled={finished}
        onClick={() => {
          const name = window.prompt("Approval signal name (a waiting approval has its own button above)");
          if (name) void act("Approve", "signal", { name, payload: { approved: true } });
        }}
      >
        Approve…
      </button>
      <button id="retry-run" disabled={!finished} onClick={() => act("Retry", "retry")}>
        Retry
      </button>
      <button id="resume-run" onClick={() => act("Resume", "resume")}>
        Resume
      </button>
      {message && <span className="muted"> {message}</span>}
    </div>
  );
}

/** A task's output and its log, followed live over the server's log stream (SSE: history first,
 * then each line as the runner stores it, until the run ends; a reconnect resumes by line number). */
function TaskPanel({ runId, task, status, output, live }: { runId: string; task: string | null; status?: string; output: unknown; live: boolean }) {
  const [log, setLog] = useState("");
  const [error, setError] = useState<string | null>(null);
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => {
    setLog("");
    setError(null);
    if (!task) return;
    let pending: string[] = [];
    let frame = 0;
    const flush = () => {
      frame = 0;
      const text = pending.join("");
      pending = [];
      setLog((current) => current + text);
    };
    const close = openStream(
      `/runs/${encodeURIComponent(runId)}/logs/stream${query({ task })}`,
      (message) => {
        if (message.event === "error") {
          setError(message.data);
          return;
        }
        if (message.event !== "log") return;
        let line: { text: string; stream: string };
        try {
          line = JSON.parse(message.data) as { text: string; stream: string };
        } catch {
          return;
        }
        pending.push((line.stream === "stderr" ? `! ${line.text}` : line.text) + "\n");
        if (!frame) frame = requestAnimationFrame(flush);
      },
      (state) => setError(state === "error" ? "log stream interrupted; reconnecting" : null),
    );
    return () => {
      close();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [runId, task]);
  useEffect(() => {
    if (box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [log]);
  if (!task) return <p className="muted">Click a task to see its log and output.</p>;
  return (
    <div className="task-panel">
      <h2>
        {task} <span className={`badge status-${status ?? "pending"}`}>{status ?? "pending"}</span>
      </h2>
      <h3>Log {live && <span className="muted">(following)</span>}</h3>
      <pre id="task-log" ref={box} className="log">
        {log || "(no output yet)"}
      </pre>
      {error && <p className="error">{error}</p>}
      <h3>Output</h3>
      <pre className="output">{output === undefined ? "—" : JSON.stringify(output, null, 2)}</pre>
    </div>
  );
}

/** Tasks waiting for a signal (approvals): what they ask, and Approve / Reject buttons that send
 * the signal they wait for with `{"approved": true|false}`. */
function Waiting({ runId, waiting }: { runId: string; waiting: RunView["waiting"] }) {
  const [message, setMessage] = useState<string | null>(null);
  const entries = Object.entries(waiting).filter(([, wait]) => wait.signal);
  if (!entries.length) return null;
  async function decide(signal: string, approved: boolean) {
    try {
      await post(`/runs/${encodeURIComponent(runId)}/signal`, { name: signal, payload: { approved }, reason: approved ? "approved in the web UI" : "rejected in the web UI" });
      setMessage(`${approved ? "Approval" : "Rejection"} sent (${signal})`);
    } catch (error) {
      setMessage(`Signal failed: ${error instanceof ApiError ? error.message : String(error)}`);
    }
  }
  return (
    <div className="waiting">
      {entries.map(([task, wait]) => (
        <div key={task} className="waiting-task">
          <b>{task}</b> waits for <code>{wait.signal}</code>
          {wait.message ? (
            <>
              : <bdi className="wait-message">{wait.message}</bdi>
            </>
          ) : null}
          {wait.approvers ? (
            <span className="muted">
              {" "}
              (approvers:{" "}
              {wait.approvers.map((who, index) => (
                <span key={index}>
                  {index ? ", " : ""}
                  <bdi>{who}</bdi>
                </span>
              ))}
              )
            </span>
          ) : null}{" "}
          <button id={`approve-${wait.signal}`} onClick={() => decide(wait.signal!, true)}>
            Approve
          </button>{" "}
          <button id={`reject-${wait.signal}`} onClick={() => decide(wait.signal!, false)}>
            Reject
          </button>
        </div>
      ))}
      {message && <span className="muted">{message}</span>}
    </div>
  );
}
