// History of a workflow: P50/P95 duration per task (from the stats endpoint), success rate,
// and the slowest runs. Bars are CSS widths set through the style prop (CSP-safe).
import { query } from "../api";
import { href } from "../router";
import { useApi } from "../useApi";
import { asList, seconds, when, type RunSummary } from "./shapes";

interface TaskStats {
  task: string;
  p50?: number;
  p95?: number;
  count?: number;
  runs?: number;
  failures?: number;
  success_rate?: number;
}

function taskRows(stats: Record<string, unknown> | null): TaskStats[] {
  if (!stats) return [];
  const tasks = stats.tasks;
  if (Array.isArray(tasks)) return tasks as TaskStats[];
  if (tasks && typeof tasks === "object") return Object.entries(tasks).map(([task, value]) => ({ task, ...(value as object) }));
  return [];
}

function number(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

export function History({ workflow }: { workflow: string | null }) {
  const workflows = useApi<unknown>(workflow ? null : "/workflows");
  const stats = useApi<Record<string, unknown>>(workflow ? `/stats${query({ workflow })}` : null);
  const runs = useApi<unknown>(workflow ? `/runs${query({ workflow, limit: 200 })}` : null);
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
  const rows = taskRows(stats.data);
  const list = asList<RunSummary>(runs.data, "runs");
  const finished = list.filter((run) => ["succeeded", "failed", "cancelled"].includes(run.status));
  const succeeded = finished.filter((run) => run.status === "succeeded").length;
  const rate = number(stats.data?.success_rate) ?? (finished.length ? succeeded / finished.length : undefined);
  const slowest = [...list].filter((run) => typeof run.duration === "number").sort((a, b) => (b.duration ?? 0) - (a.duration ?? 0)).slice(0, 10);
  const widest = Math.max(0.001, ...rows.map((row) => number(row.p95) ?? 0));
  return (
    <section>
      <h1>
        History of <a href={href("workflows", workflow)}>{workflow}</a>
      </h1>
      {stats.error && <p className="error">Stats: {stats.error}</p>}
      <p id="success-rate">
        Success rate: <b>{rate === undefined ? "—" : `${(rate * 100).toFixed(1)} %`}</b> over {finished.length} finished runs
      </p>
      <h2>Task durations (P50 / P95)</h2>
      <table className="stats">
        <thead>
          <tr>
            <th>Task</th>
            <th>P50</th>
            <th>P95</th>
            <th></th>
            <th>Runs</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.task}>
              <td>{row.task}</td>
              <td>{seconds(row.p50)}</td>
              <td>{seconds(row.p95)}</td>
              <td className="bar-cell">
                <div className="bar p95" style={{ width: `${((number(row.p95) ?? 0) / widest) * 100}%` }} />
                <div className="bar p50" style={{ width: `${((number(row.p50) ?? 0) / widest) * 100}%` }} />
              </td>
              <td>{row.count ?? row.runs ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Slowest runs</h2>
      <ol>
        {slowest.map((run) => (
          <li key={run.run_id}>
            <a href={href("runs", run.run_id)}>{run.run_id}</a> {seconds(run.duration)} <span className={`badge status-${run.status}`}>{run.status}</span> <span className="muted">{when(run.created ?? run.started)}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}
