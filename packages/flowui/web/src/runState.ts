// What the run monitor shows, folded from the run's events as they arrive: each task's status
// and its attempts (for the timeline). Display only: the run's real state is the server's;
// this mirrors the event kinds documented in core's flowbuilder.events.
import type { RunEvent } from "./api";

/** An annotation beside the run's events (notes, anomalies, audit entries), as the stream sends it. */
export interface Annotation {
  number: number;
  kind: string;
  task?: string | null;
  attempt?: number | null;
  payload?: unknown;
  author?: string;
  time: number;
}

export interface Attempt {
  task: string;
  attempt: number;
  start: number;
  end: number | null;
  status: string;
}

export interface RunView {
  status: string;
  paused: boolean;
  tasks: Record<string, string>;
  attempts: Attempt[];
  errors: { task: string; attempt: number; error: string }[];
  outputs: Record<string, unknown>;
  annotations: Annotation[];
  /** Tasks waiting now (approvals, timers): the data of their task_waiting event. */
  waiting: Record<string, { signal?: string; message?: string; approvers?: string[]; until?: number }>;
  lastSeq: number;
  started: number | null;
  finished: number | null;
}

export function emptyView(): RunView {
  return { status: "pending", paused: false, tasks: {}, attempts: [], errors: [], outputs: {}, annotations: [], waiting: {}, lastSeq: 0, started: null, finished: null };
}

const TASK_STATUS: Record<string, string> = {
  task_started: "running",
  task_waiting: "waiting",
  task_succeeded: "succeeded",
  task_retrying: "retrying",
  task_skipped: "skipped",
  task_cancelled: "cancelled",
};

/** Adds annotations (each once, by number); returns a new view. */
export function applyAnnotations(view: RunView, annotations: Annotation[]): RunView {
  const known = new Set(view.annotations.map((annotation) => annotation.number));
  const fresh = annotations.filter((annotation) => !known.has(annotation.number));
  return fresh.length ? { ...view, annotations: [...view.annotations, ...fresh] } : view;
}

/** Applies events in order; returns a new view (the old one is not changed). */
export function applyEvents(view: RunView, events: RunEvent[]): RunView {
  const next: RunView = { ...view, tasks: { ...view.tasks }, attempts: [...view.attempts], errors: [...view.errors], outputs: { ...view.outputs }, annotations: [...view.annotations], waiting: { ...view.waiting } };
  const open = new Map<string, Attempt>();
  next.attempts.forEach((attempt, index) => {
    if (attempt.end === null) open.set(`${attempt.task}#${attempt.attempt}`, (next.attempts[index] = { ...attempt }));
  });
  for (const event of events) {
    if (event.seq <= next.lastSeq) continue;
    next.lastSeq = event.seq;
    const task = event.task ?? "";
    const data = event.data ?? {};
    const key = `${task}#${event.attempt ?? 0}`;
    switch (event.kind) {
      case "run_created":
        next.status = "pending";
        break;
      case "run_started":
        next.status = "running";
        next.started ??= event.time;
        break;
      case "run_paused":
        next.paused = true;
        break;
      case "run_unpaused":
        next.paused = false;
        break;
      case "run_finished":
        next.status = String(data.status ?? "finished");
        next.finished = event.time;
        next.paused = false;
        break;
      case "task_started": {
        const attempt: Attempt = { task, attempt: event.attempt ?? 0, start: event.time, end: null, status: "running" };
        next.attempts.push(attempt);
        open.set(key, attempt);
        break;
      }
      default:
        break;
    }
    if (event.kind === "task_failed") next.tasks[task] = data.final === false ? "retrying" : "failed";
    else if (TASK_STATUS[event.kind] && task) next.tasks[task] = TASK_STATUS[event.kind];
    if (event.kind === "task_waiting") next.waiting[task] = data as RunView["waiting"][string];
    else if (task && next.waiting[task] && event.kind !== "task_signal_refused") delete next.waiting[task];
    if (event.kind === "task_succeeded") next.outputs[task] = data.output;
    if (event.kind === "task_failed") next.errors.push({ task, attempt: event.attempt ?? 0, error: String(data.error ?? "") });
    if (["task_succeeded", "task_failed", "task_cancelled"].includes(event.kind)) {
      const attempt = open.get(key);
      if (attempt) {
        attempt.end = event.time;
        attempt.status = event.kind.replace("task_", "");
        open.delete(key);
      }
    }
  }
  return next;
}
