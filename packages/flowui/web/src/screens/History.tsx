// History of a workflow: success rate and run P50/P95 (`/stats`), and per task P50/P95,
// success rate and the slowest runs from `/workflows/{name}/stats` — flowbuilder-storage's
// history report, the same figures as `flowbuilder stats`, computed on the server over every
// stored run (the browser computes nothing). Bars are CSS widths set through the style prop
// (CSSOM, allowed by a strict CSP).
import { query, type WorkflowHistory } from "../api";
import { href } from "../router";
import { useApi } from "../useApi";
import { asList, seconds, when } from "./shapes";

interface RunStats {
  runs: number;
  by_status: Record<string, number>;
  success_rate: number | null;
  duration_p50: number | null;
  duration_p95: number | null;
}

function percent(rate: number | null | undefined): string {
  return rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)} %`;
}

export function History({ workflow }: { workflow: string | null }) {
  const workflows = useApi<unknown>(workflow ? null : "/workflows");
  const stats = useApi<RunStats>(workflow ? `/stats${query({ workflow })}` : null);
  const history = useApi<WorkflowHistory>(workflow ? `/workflows/${encodeURIComponent(workflow)}/stats` : null);
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
  const rows = [...(history.data?.tasks ?? [])].sort((a, b) => (b.p95 ?? 0) - (a.p95 ?? 0));
  const widest = Math.max(0.001, ...rows.map((row) => row.p95 ?? 0));
  return (
    <section>
      <h1>
        History of <a href={href("workflows", workflow)}>{workflow}</a>
      </h1>
      {stats.error && <p className="error">Stats: {stats.error}</p>}
      {stats.data && (
        <p id="success-rate">
          Success rate: <b>{percent(stats.data.success_rate)}</b> over {stats.data.runs} runs (
          {Object.entries(stats.data.by_status)
            .map(([status, count]) => `${count} ${status}`)
            .join(", ")}
          ); run duration P50 {seconds(stats.data.duration_p50)}, P95 {seconds(stats.data.duration_p95)}
        </p>
      )}
      <h2>Task durations (P50 / P95 of successful executions, {history.data?.runs ?? "…"} runs)</h2>
      {history.error && <p className="error">Task history: {history.error}</p>}
      {history.data === null ? (
        !history.error && <p>Loading…</p>
      ) : (
        <table className="stats" id="task-stats">
          <thead>
            <tr>
              <th>Task</th>
              <th>P50</th>
              <th>P95</th>
              <th></th>
              <th>Executions</th>
              <th>Success</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.task} data-task={row.task}>
                <td>{row.task}</td>
                <td>{seconds(row.p50)}</td>
                <td>{seconds(row.p95)}</td>
                <td className="bar-cell">
                  <div className="bar p95" style={{ width: `${((row.p95 ?? 0) / widest) * 100}%` }} />
                  <div className="bar p50" style={{ width: `${((row.p50 ?? 0) / widest) * 100}%` }} />
                </td>
                <td>{row.executions}</td>
                <td>{percent(row.success_rate)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Slowest runs</h2>
      <ol id="slowest-runs">
        {(history.data?.slowest_runs ?? []).map((run) => (
          <li key={run.run_id}>
            <a href={href("runs", run.run_id)}>{run.run_id}</a> {seconds(run.seconds)} <span className={`badge status-${run.status}`}>{run.status}</span> <span className="muted">{when(run.created_at)}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}
