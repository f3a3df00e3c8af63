// Every run, newest first, filtered by workflow or status.
import { useState } from "react";
import { query } from "../api";
import { href } from "../router";
import { useApi } from "../useApi";
import { asList, runDuration, seconds, when, type RunSummary } from "./shapes";

export function Runs() {
  const [status, setStatus] = useState("");
  const runs = useApi<unknown>(`/runs${query({ status, limit: 100 })}`);
  return (
    <section>
      <h1>Runs</h1>
      <label>
        Status{" "}
        <select value={status} onChange={(e) => setStatus(e.target.value)}>
          {["", "pending", "running", "succeeded", "failed", "cancelled", "interrupted"].map((value) => (
            <option key={value} value={value}>
              {value || "any"}
            </option>
          ))}
        </select>
      </label>
      {runs.error && <p className="error">{runs.error}</p>}
      <table className="runs">
        <thead>
          <tr>
            <th>Run</th>
            <th>Workflow</th>
            <th>Status</th>
            <th>Started</th>
            <th>Duration</th>
          </tr>
        </thead>
        <tbody>
          {asList<RunSummary>(runs.data, "runs").map((run) => (
            <tr key={run.run_id}>
              <td>
                <a href={href("runs", run.run_id)}>{run.run_id}</a>
              </td>
              <td>{run.workflow}</td>
              <td>
                <span className={`badge status-${run.status}`}>{run.status}</span>
              </td>
              <td>{when(run.created_at)}</td>
              <td>{seconds(runDuration(run))}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
