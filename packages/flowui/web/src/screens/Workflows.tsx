// The workflows list, each with its last runs.
import { query } from "../api";
import { href } from "../router";
import { useApi } from "../useApi";
import { asList, type RunSummary } from "./shapes";

interface WorkflowSummary {
  name: string;
  versions: number;
}

export function Workflows() {
  const workflows = useApi<unknown>("/workflows");
  const runs = useApi<unknown>(`/runs${query({ limit: 200 })}`);
  if (workflows.error) return <p className="error">Could not list workflows: {workflows.error}</p>;
  if (!workflows.data) return <p>Loading…</p>;
  const list = asList<WorkflowSummary>(workflows.data, "workflows");
  const recent = asList<RunSummary>(runs.data, "runs");
  return (
    <section>
      <h1>Workflows</h1>
      <p>
        <a className="button" href={href("designer")}>
          New workflow in the designer
        </a>
      </p>
      {list.length === 0 ? (
        <p className="muted">No workflows stored yet: run one with the CLI, or build one in the designer.</p>
      ) : (
        <table className="workflows">
          <thead>
            <tr>
              <th>Workflow</th>
              <th>Stored versions</th>
              <th>Last runs</th>
            </tr>
          </thead>
          <tbody>
            {list.map((workflow) => {
              const last = recent.filter((run) => run.workflow === workflow.name).slice(0, 5);
              return (
                <tr key={workflow.name}>
                  <td>
                    <a href={href("workflows", workflow.name)}>{workflow.name}</a>
                  </td>
                  <td>{workflow.versions || <span className="muted">known from runs</span>}</td>
                  <td>
                    {last.map((run) => (
                      <a key={run.run_id} className={`badge status-${run.status}`} href={href("runs", run.run_id)} title={run.run_id}>
                        {run.status}
                      </a>
                    ))}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
