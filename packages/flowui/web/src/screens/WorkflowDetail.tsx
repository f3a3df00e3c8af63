// One workflow: its DAG laid out automatically, the start-a-run form and its recent runs.
import { useMemo, useState } from "react";
import { ApiError, post, query } from "../api";
import { DagView } from "../graph/DagView";
import { href, navigate } from "../router";
import { collectValues, initialValues, SchemaForm, type FormValues } from "../SchemaForm";
import { useApi } from "../useApi";
import { paramsSchema, taskShapes, workflowDocument } from "../workflowShape";
import { asList, when, type RunSummary } from "./shapes";

export function WorkflowDetail({ name }: { name: string }) {
  const workflow = useApi<Record<string, unknown>>(`/workflows/${encodeURIComponent(name)}`);
  const runs = useApi<unknown>(`/runs${query({ workflow: name, limit: 20 })}`);
  const doc = useMemo(() => (workflow.data ? workflowDocument(workflow.data) : null), [workflow.data]);
  const tasks = useMemo(() => (doc ? taskShapes(doc, workflow.data) : []), [doc, workflow.data]);
  const stored = Boolean(workflow.data?.version);
  if (workflow.error) return <p className="error">Could not load {name}: {workflow.error}</p>;
  if (!doc || !workflow.data) return <p>Loading…</p>;
  return (
    <section>
      <h1>
        {doc.name} <span className="muted">v{doc.version ?? "?"}</span>
      </h1>
      {doc.description && <p>{doc.description}</p>}
      <p>
        <a className="button" href={href("designer", name)}>
          Edit in the designer
        </a>{" "}
        <a className="button" href={href("history", name)}>
          History
        </a>
      </p>
      <div className="columns">
        <div className="wide">
          <DagView tasks={tasks} />
        </div>
        <div className="side">
          <StartRun workflow={name} yaml={stored ? null : String(workflow.data.yaml ?? "")} schema={paramsSchema(workflow.data, doc)} />
          <h2>Recent runs</h2>
          <ul className="runs">
            {asList<RunSummary>(runs.data, "runs").map((run) => (
              <li key={run.run_id}>
                <a href={href("runs", run.run_id)}>{run.run_id}</a> <span className={`badge status-${run.status}`}>{run.status}</span> <span className="muted">{when(run.created_at)}</span>
              </li>
            ))}
          </ul>
        </div>
      </div>
    </section>
  );
}

/** Starts the stored workflow's latest version by name, or (known only from runs) its YAML. */
function StartRun({ workflow, yaml, schema }: { workflow: string; yaml: string | null; schema: ReturnType<typeof paramsSchema> }) {
  const [values, setValues] = useState<FormValues>(() => initialValues(schema));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      className="start-run"
      onSubmit={async (event) => {
        event.preventDefault();
        const collected = collectValues(schema, values);
        setErrors(collected.errors);
        if (Object.keys(collected.errors).length) return;
        setBusy(true);
        setFailure(null);
        try {
          const started = await post<{ run_id: string }>("/runs", yaml ? { yaml, params: collected.values } : { workflow, params: collected.values });
          navigate("runs", started.run_id);
        } catch (error) {
          setFailure(error instanceof ApiError ? error.message : String(error));
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2>Start a run</h2>
      <SchemaForm schema={schema} values={values} onChange={setValues} errors={errors} prefix="param" />
      {failure && <p className="error">{failure}</p>}
      <button type="submit" id="start-run" disabled={busy}>
        Start run
      </button>
    </form>
  );
}
