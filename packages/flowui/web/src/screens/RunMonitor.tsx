// A run, live: the DAG coloured as events arrive (read from the SSE stream), progress, a
// timeline of attempts, a task's log following live, outputs, errors, annotations and
// anomalies, and the control buttons. Events are applied in batches, once per animation
// frame, so a 20,000-task run does not re-render per event.
import { useEffect, useMemo, useRef, useState } from "react";
import { ApiError, get, post, query, type RunEvent } from "../api";
import { DagView } from "../graph/DagView";
import { href, navigate } from "../router";
import { applyEvents, emptyView, type RunView } from "../runState";
import { openStream } from "../sse";
import { useApi } from "../useApi";
import { taskShapes, workflowDocument } from "../workflowShape";
import { asList, seconds } from "./shapes";
import { Timeline } from "./Timeline";

interface RunDetail {
  run_id: string;
  workflow: string;
  status: string;
  definition?: unknown;
  [key: string]: unknown;
}

export function RunMonitor({ runId }: { runId: string }) {
  const run = useApi<RunDetail>(`/runs/${encodeURIComponent(runId)}`);
  const workflowName = run.data?.workflow ?? null;
  const workflow = useApi<Record<string, unknown>>(run.data && !run.data.definition && workflowName ? `/workflows/${encodeURIComponent(workflowName)}` : null);
  const tasks = useMemo(() => {
    const source = run.data?.definition ? (run.data as Record<string, unknown>) : workflow.data;
    return source ? taskShapes(workflowDocument(source)) : [];
  }, [run.data, workflow.data]);
  const [view, setView] = useState<RunView>(emptyView);
  const [stream, setStream] = useState("connecting");
  const [selected, setSelected] = useState<string | null>(null);
  const pending = useRef<RunEvent[]>([]);

  useEffect(() => {
    setView(emptyView());
    let frame = 0;
    const flush = () => {
      frame = 0;
      const batch = pending.current;
      pending.current = [];
      setView((current) => applyEvents(current, batch));
    };
    const close = openStream(
      `/runs/${encodeURIComponent(runId)}/events/stream${query({ after: 0 })}`,
      (message) => {
        if (!message.data) return;
        let parsed: unknown;
        try {
          parsed = JSON.parse(message.data);
        } catch {
          return;
        }
        const events = Array.isArray(parsed) ? (parsed as RunEvent[]) : [parsed as RunEvent];
        for (const event of events) if (typeof event?.seq === "number" && typeof event.kind === "string") pending.current.push(event);
        if (!frame) frame = requestAnimationFrame(flush);
      },
      setStream,
    );
    return () => {
      close();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [runId]);

  if (run.error) return <p className="error">Could not load run {runId}: {run.error}</p>;
  if (!run.data) return <p>Loading…</p>;
  const status = view.lastSeq ? view.status : run.data.status;
  const finishedTasks = Object.values(view.tasks).filter((value) => ["succeeded", "failed", "skipped", "cancelled"].includes(value)).length;
  const total = tasks.length || Object.keys(view.tasks).length;
  const anomalies = view.annotations.filter((event) => event.data && ("anomaly" in event.data || "score" in event.data || "anomalies" in event.data));
  return (
    <section>
      <h1>
        Run <code>{runId}</code> of <a href={href("workflows", run.data.workflow)}>{run.data.workflow}</a>{" "}
        <span id="run-status" className={`badge status-${status}`} data-status={status}>
          {status}
          {view.paused ? " (paused)" : ""}
        </span>
      </h1>
      <Controls runId={runId} finished={["succeeded", "failed", "cancelled"].includes(status)} paused={view.paused} />
      <div className="progress" title={`${finishedTasks} of ${total} tasks finished`}>
        <progress id="run-progress" max={Math.max(total, 1)} value={finishedTasks} /> {finishedTasks} / {total} tasks
        <span className="muted"> · live: {stream}</span>
      </div>
      <div className="columns">
        <div className="wide">
          <DagView tasks={tasks} statuses={view.tasks} onSelect={setSelected} />
        </div>
        <div className="side">
          <TaskPanel runId={runId} task={selected} status={selected ? view.tasks[selected] : undefined} output={selected ? view.outputs[selected] : undefined} live={!["succeeded", "failed", "cancelled"].includes(status)} />
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
          {view.annotations.map((event) => (
            <li key={event.seq} className={anomalies.includes(event) ? "anomaly" : ""}>
              <b>{event.task}</b>: <code>{JSON.stringify(event.data)}</code>
            </li>
          ))}
        </ul>
      )}
      <StoredAnnotations runId={runId} />
    </section>
  );
}

function Controls({ runId, finished, paused }: { runId: string; finished: boolean; paused: boolean }) {
  const [message, setMessage] = useState<string | null>(null);
  const path = `/runs/${encodeURIComponent(runId)}`;
  async function act(label: string, action: string, body: Record<string, unknown> = {}) {
    setMessage(`${label}…`);
    try {
      const reply = await post<Record<string, unknown>>(`${path}/${action}`, body);
      const next = (reply?.run_id as string | undefined) ?? undefined;
      setMessage(`${label}: requested`);
      if (next && next !== runId) navigate("runs", next);
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
      <button id="approve-run" disabled={finished} onClick={() => act("Approve", "signal", { name: window.prompt("Approval signal name", "approve") || "approve", payload: { approved: true } })}>
        Approve
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

/** A task's output and its log, followed live (polled from the logs endpoint with an offset). */
function TaskPanel({ runId, task, status, output, live }: { runId: string; task: string | null; status?: string; output: unknown; live: boolean }) {
  const [log, setLog] = useState("");
  const [error, setError] = useState<string | null>(null);
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => {
    setLog("");
    setError(null);
    if (!task) return;
    let stopped = false;
    let offset = 0;
    let timer = 0;
    const poll = async () => {
      try {
        const reply = await get<unknown>(`/runs/${encodeURIComponent(runId)}/logs${query({ task, offset })}`);
        if (stopped) return;
        const { text, next } = logChunk(reply);
        if (next === null) setLog(text);
        else if (text) setLog((current) => current + text);
        if (next !== null) offset = next;
        setError(null);
      } catch (reason) {
        if (!stopped) setError(reason instanceof Error ? reason.message : String(reason));
      }
      if (!stopped && live) timer = window.setTimeout(poll, 1000);
    };
    void poll();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [runId, task, live]);
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

/** The logs endpoint's answer as text: `{lines}`/`{text}`/`{logs}` with an optional next offset, or plain text. */
function logChunk(reply: unknown): { text: string; next: number | null } {
  if (typeof reply === "string") return { text: reply, next: null };
  if (Array.isArray(reply)) return { text: reply.map(lineText).join("\n") + (reply.length ? "\n" : ""), next: null };
  if (reply && typeof reply === "object") {
    const record = reply as Record<string, unknown>;
    const next = typeof record.next_offset === "number" ? record.next_offset : typeof record.next === "number" ? record.next : null;
    const body = record.lines ?? record.logs ?? record.text ?? record.content ?? "";
    const text = Array.isArray(body) ? body.map(lineText).join("\n") + (body.length ? "\n" : "") : String(body);
    return { text, next };
  }
  return { text: "", next: null };
}

function lineText(line: unknown): string {
  if (typeof line === "string") return line;
  if (line && typeof line === "object") {
    const record = line as Record<string, unknown>;
    return String(record.line ?? record.text ?? record.message ?? JSON.stringify(line));
  }
  return String(line);
}

function StoredAnnotations({ runId }: { runId: string }) {
  const annotations = useApi<unknown>(`/runs/${encodeURIComponent(runId)}/annotations`);
  const anomalies = useApi<unknown>(`/runs/${encodeURIComponent(runId)}/anomalies`);
  const items = [...asList<Record<string, unknown>>(annotations.data, "annotations"), ...asList<Record<string, unknown>>(anomalies.data, "anomalies")];
  if (!items.length) return null;
  return (
    <ul className="annotations stored">
      {items.map((item, index) => (
        <li key={index}>
          <code>{JSON.stringify(item)}</code> {typeof item.duration === "number" && seconds(item.duration)}
        </li>
      ))}
    </ul>
  );
}
