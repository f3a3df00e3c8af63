// History of a workflow: success rate and run P50/P95 (the stats endpoint), P50/P95 per task,
// and the slowest runs. Per-task figures are computed here from the task states of the newest
// TASK_WINDOW finished runs, because the API's stats are per run only so far. Bars are CSS
// widths set through the style prop (CSSOM, allowed by a strict CSP).
import { useEffect, useState } from "react";
import { get, query } from "../api";
import { href } from "../router";
import { useApi } from "../useApi";
import { asList, runDuration, seconds, when, type RunSummary } from "./shapes";

const TASK_WINDOW = 30;

interface RunStats {
  runs: number;
  by_status: Record<string, number>;
  success_rate: number | null;
  duration_p50: number | null;
  duration_p95: number | null;
}

interface TaskRow {
  task: string;
  p50: number;
  p95: number;
  count: number;
  failed: number;
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))];
}

function useTaskRows(runs: RunSummary[]): TaskRow[] | null {
  const [rows, setRows] = useState<TaskRow[] | null>(null);
  const ids = runs.filter((run) => run.finished_at).slice(0, TASK_WINDOW).map((run) => run.run_id).join(",");
  useEffect(() => {
    let current = true;
    const chosen = ids ? ids.split(",") : [];
    void Promise.all(chosen.map((id) => get<{ tasks: Record<string, { status: string; started_at: number | null; finished_at: number | null }> }>(`/runs/${encodeURIComponent(id)}`).catch(() => null))).then((details) => {
      const durations = new Map<string, number[]>();
      const failures = new Map<string, number>();
      for (const detail of details)
        for (const [task, state] of Object.entries(detail?.tasks ?? {})) {
          if (state.status === "failed") failures.set(task, (failures.get(task) ?? 0) + 1);
          if (state.started_at && state.finished_at) {
            if (!durations.has(task)) durations.set(task, []);
            durations.get(task)!.push(state.finished_at - state.started_at);
          }
        }
      const result = [...durations].map(([task, values]) => {
        values.sort((a, b) => a - b);
        return { task, p50: percentile(values, 0.5), p95: percentile(values, 0.95), count: values.length, failed: failures.get(task) ?? 0 };
      });
      result.sort((a, b) => b.p95 - a.p95);
      if (current) setRows(result);
    });
    return () => {
      current = false;
    };
  }, [ids]);
  return rows;
}

export function History({ workflow }: { workflow: string | null }) {
  const workflows = useApi<unknown>(workflow ? null : "/workflows");
  const stats = useApi<RunStats>(workflow ? `/stats${query({ workflow })}` : null);
  const runs = useApi<unknown>(workflow ? `/runs${query({ workflow, limit: 200 })}` : null);
  const list = asList<RunSummary>(runs.data, "runs");
  const rows = useTaskRows(list);
  if (!workflow)
    return (
      <section>
        <h1>History</h1>
        <p>Pick a workflow:</p>
        <ul>
          {asList<{ name: string }>(workflows.data, "workflows").map((item) => (
            <li key={item.name}>
              <a href={href("history", item.name)}>{item.name}</a>
            </li>
          ))}
        </ul>
      </section>
    );
  const rate = stats.data?.success_rate;
  const slowest = list.filter((run) => runDuration(run) !== null).sort((a, b) => (runDuration(b) ?? 0) - (runDuration(a) ?? 0)).slice(0, 10);
  const widest = Math.max(0.001, ...(rows ?? []).map((row) => row.p95));
  return (
    <section>
      <h1>
        History of <a href={href("workflows", workflow)}>{workflow}</a>
      </h1>
      {stats.error && <p className="error">Stats: {stats.error}</p>}
      {stats.data && (
        <p id="success-rate">
          Success rate: <b>{rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)} %`}</b> over {stats.data.runs} runs (
          {Object.entries(stats.data.by_status)
            .map(([status, count]) => `${count} ${status}`)
            .join(", ")}
          ); run duration P50 {seconds(stats.data.duration_p50)}, P95 {seconds(stats.data.duration_p95)}
        </p>
      )}
      <h2>Task durations (P50 / P95, newest {TASK_WINDOW} finished runs)</h2>
      {rows === null ? (
        <p>Loading…</p>
      ) : (
        <table className="stats" id="task-stats">
          <thead>
            <tr>
              <th>Task</th>
              <th>P50</th>
              <th>P95</th>
              <th></th>
              <th>Runs</th>
              <th>Failed</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.task}>
                <td>{row.task}</td>
                <td>{seconds(row.p50)}</td>
                <td>{seconds(row.p95)}</td>
                <td className="bar-cell">
                  <div className="bar p95" style={{ width: `${(row.p95 / widest) * 100}%` }} />
                  <div className="bar p50" style={{ width: `${(row.p50 / widest) * 100}%` }} />
                </td>
                <td>{row.count}</td>
                <td>{row.failed || ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Slowest runs</h2>
      <ol>
        {slowest.map((run) => (
          <li key={run.run_id}>
            <a href={href("runs", run.run_id)}>{run.run_id}</a> {seconds(runDuration(run))} <span className={`badge status-${run.status}`}>{run.status}</span> <span className="muted">{when(run.created_at)}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}
