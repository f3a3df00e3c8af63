// The designer: add tasks by type (a form from the type's config schema), draw dependencies
// by connecting nodes, edit when/retry/timeout/priority/pool, validate live through the
// server's validate endpoint (errors located to line and column of the YAML shown beside),
// and save a new version.
import { useCallback, useEffect, useMemo, useState } from "react";
import { addEdge, Background, Controls, Handle, Position, ReactFlow, ReactFlowProvider, useReactFlow, type Connection, type Edge, type EdgeChange, type Node, type NodeChange, type NodeProps, applyNodeChanges } from "@xyflow/react";
import { get, postYaml, type Diagnostic, type JsonSchema, type TaskTypeInfo } from "../api";
import { layout } from "../graph/layout";
import { navigate } from "../router";
import { collectValues, initialValues, SchemaForm, withoutDefaults, type FormValues } from "../SchemaForm";
import { useApi } from "../useApi";
import { emptyWorkflow, fromYaml, toYaml, uniqueName, type DesignTask, type DesignWorkflow } from "./designerModel";

type TaskTypes = Record<string, JsonSchema | null>;

/**
 * Task types by name, with their config's JSON schema (`GET /task-types`, a viewer's route,
 * so every role that may design gets the list); a type without a schema (null) has its
 * config edited as raw JSON.
 */
function useTaskTypes(): TaskTypes {
  const [types, setTypes] = useState<TaskTypes>({});
  useEffect(() => {
    let current = true;
    get<{ task_types: TaskTypeInfo[] }>("/task-types").then(
      (reply) => {
        const found: TaskTypes = {};
        for (const item of reply.task_types) found[item.name] = item.config_schema;
        if (current) setTypes(found);
      },
      () => undefined, // the type list stays empty; the designer still edits loaded workflows
    );
    return () => {
      current = false;
    };
  }, []);
  return types;
}

type DesignNode = Node<{ label: string; type: string; invalid: boolean }, "design">;

function DesignNodeView({ data, selected }: NodeProps<DesignNode>) {
  return (
    <div className={`task-node design${selected ? " selected" : ""}${data.invalid ? " invalid" : ""}`} data-task={data.label}>
      <Handle type="target" position={Position.Top} />
      <b>{data.label}</b> <span className="muted">{data.type}</span>
      <Handle type="source" position={Position.Bottom} />
    </div>
  );
}
const nodeTypes = { design: DesignNodeView };

export function Designer({ name }: { name: string | null }) {
  return (
    <ReactFlowProvider>
      <DesignerBody name={name} />
    </ReactFlowProvider>
  );
}

function DesignerBody({ name }: { name: string | null }) {
  const flow = useReactFlow();
  const stored = useApi<Record<string, unknown>>(name ? `/workflows/${encodeURIComponent(name)}` : null);
  const taskTypes = useTaskTypes();
  const [workflow, setWorkflow] = useState<DesignWorkflow>(emptyWorkflow);
  const [positions, setPositions] = useState<Record<string, { x: number; y: number }>>({});
  // React Flow measures each node and reports it as a "dimensions" change; a controlled flow
  // must hand the sizes back, or the nodes stay hidden as unmeasured.
  const [measured, setMeasured] = useState<Record<string, { width: number; height: number }>>({});
  const [selected, setSelected] = useState<string | null>(null);
  const [diagnostics, setDiagnostics] = useState<Diagnostic[]>([]);
  const [validity, setValidity] = useState<"unknown" | "valid" | "invalid" | "error">("unknown");
  const [saved, setSaved] = useState<string | null>(null);
  const [newType, setNewType] = useState("");

  useEffect(() => {
    if (!stored.data) return;
    const loaded = fromYaml(String(stored.data.yaml ?? ""));
    setWorkflow(loaded);
    void layout(loaded.tasks).then((reply) => {
      setPositions(Object.fromEntries(loaded.tasks.map((task, index) => [task.name, { x: reply.x[index], y: reply.y[index] }])));
      requestAnimationFrame(() => void flow.fitView({ maxZoom: 1 }));
    });
  }, [stored.data, flow]);

  const yamlText = useMemo(() => toYaml(workflow), [workflow]);

  // Live validation, debounced: the server's own loader checks the YAML text.
  useEffect(() => {
    if (!workflow.tasks.length) {
      setValidity("unknown");
      setDiagnostics([]);
      return;
    }
    let current = true;
    const timer = window.setTimeout(async () => {
      try {
        const reply = await postYaml<{ valid: boolean; errors: Diagnostic[] }>("/workflows/validate", yamlText);
        if (!current) return;
        setDiagnostics(reply.errors);
        setValidity(reply.valid ? "valid" : "invalid");
      } catch (error) {
        if (!current) return;
        setDiagnostics([{ line: 0, column: 0, message: error instanceof Error ? error.message : String(error) }]);
        setValidity("error");
      }
    }, 400);
    return () => {
      current = false;
      window.clearTimeout(timer);
    };
  }, [yamlText, workflow.tasks.length]);

  const invalidLines = useMemo(() => new Set(diagnostics.map((item) => item.line)), [diagnostics]);
  const nodes: DesignNode[] = workflow.tasks.map((task, index) => ({
    id: task.name,
    type: "design",
    position: positions[task.name] ?? { x: (index % 4) * 200, y: Math.floor(index / 4) * 110 },
    data: { label: task.name, type: task.type, invalid: diagnostics.some((item) => item.message.includes(task.name)) },
    selected: task.name === selected,
    measured: measured[task.name],
  }));
  const edges: Edge[] = workflow.tasks.flatMap((task) => task.depends_on.map((parent) => ({ id: `${parent}->${task.name}`, source: parent, target: task.name })));

  const updateTask = useCallback((taskName: string, change: (task: DesignTask) => DesignTask) => {
    setWorkflow((current) => ({ ...current, tasks: current.tasks.map((task) => (task.name === taskName ? change(task) : task)) }));
  }, []);

  const onConnect = useCallback(
    (connection: Connection) => {
      if (!connection.source || !connection.target || connection.source === connection.target) return;
      addEdge(connection, []);
      updateTask(connection.target, (task) => (task.depends_on.includes(connection.source) ? task : { ...task, depends_on: [...task.depends_on, connection.source] }));
    },
    [updateTask],
  );
  const onEdgesChange = useCallback(
    (changes: EdgeChange[]) => {
      for (const change of changes)
        if (change.type === "remove") {
          const [parent, child] = change.id.split("->");
          updateTask(child, (task) => ({ ...task, depends_on: task.depends_on.filter((name) => name !== parent) }));
        }
    },
    [updateTask],
  );
  const onNodesChange = useCallback(
    (changes: NodeChange<DesignNode>[]) => {
      const moved = changes.filter((change) => change.type === "position" && change.position);
      if (moved.length) setPositions((current) => ({ ...current, ...Object.fromEntries(applyNodeChanges(moved, nodes).map((node) => [node.id, node.position])) }));
      const sized = changes.flatMap((change) => (change.type === "dimensions" && change.dimensions ? [[change.id, change.dimensions] as const] : []));
      if (sized.length) setMeasured((current) => ({ ...current, ...Object.fromEntries(sized) }));
      const removed = changes.filter((change) => change.type === "remove").map((change) => change.id);
      if (removed.length)
        setWorkflow((current) => ({
          ...current,
          tasks: current.tasks.filter((task) => !removed.includes(task.name)).map((task) => ({ ...task, depends_on: task.depends_on.filter((parent) => !removed.includes(parent)) })),
        }));
    },
    [nodes],
  );

  const typeNames = Object.keys(taskTypes).sort();
  const chosenType = newType || typeNames[0] || "shell";
  const current = workflow.tasks.find((task) => task.name === selected) ?? null;

  return (
    <section className="designer">
      <h1>Designer</h1>
      <div className="designer-meta">
        <label>
          Name <input id="workflow-name" value={workflow.name} onChange={(e) => setWorkflow({ ...workflow, name: e.target.value })} />
        </label>
        <label>
          Version <input id="workflow-version" value={workflow.version} onChange={(e) => setWorkflow({ ...workflow, version: e.target.value })} />
        </label>
        <label>
          Add task of type{" "}
          <select id="new-task-type" value={chosenType} onChange={(e) => setNewType(e.target.value)}>
            {typeNames.map((type) => (
              <option key={type}>{type}</option>
            ))}
          </select>
        </label>
        <button
          id="add-task"
          onClick={() => {
            const taskName = uniqueName(workflow, chosenType);
            const schema = taskTypes[chosenType];
            const config = schema ? withoutDefaults(schema, collectValues(schema, initialValues(schema)).values) : {};
            setWorkflow({ ...workflow, tasks: [...workflow.tasks, { name: taskName, type: chosenType, depends_on: [], config, extra: {} }] });
            setSelected(taskName);
          }}
        >
          Add task
        </button>
        <button
          onClick={() =>
            void layout(workflow.tasks).then((reply) => {
              setPositions(Object.fromEntries(workflow.tasks.map((task, index) => [task.name, { x: reply.x[index], y: reply.y[index] }])));
              requestAnimationFrame(() => void flow.fitView({ maxZoom: 1 }));
            })
          }
        >
          Arrange
        </button>
        <span id="validity" className={`badge validity-${validity}`} data-validity={validity}>
          {validity === "unknown" ? "add a task" : validity}
        </span>
        <button
          id="save-workflow"
          disabled={validity !== "valid"}
          onClick={async () => {
            try {
              await postYaml(`/workflows/${encodeURIComponent(workflow.name)}/versions`, yamlText);
              setSaved(`Saved ${workflow.name} v${workflow.version}`);
            } catch (error) {
              setSaved(`Save failed: ${error instanceof Error ? error.message : String(error)}`);
            }
          }}
        >
          Save
        </button>
        {saved && (
          <span id="save-result">
            {saved}{" "}
            {saved.startsWith("Saved") && (
              <button className="link" id="open-saved" onClick={() => navigate("workflows", workflow.name)}>
                open
              </button>
            )}
          </span>
        )}
      </div>
      <div className="columns">
        <div className="wide designer-canvas">
          <ReactFlow nodes={nodes} edges={edges} nodeTypes={nodeTypes} onConnect={onConnect} onEdgesChange={onEdgesChange} onNodesChange={onNodesChange} onNodeClick={(_, node) => setSelected(node.id)} fitView proOptions={{ hideAttribution: true }} deleteKeyCode={["Delete", "Backspace"]}>
            <Background />
            <Controls />
          </ReactFlow>
        </div>
        <div className="side">
          {current ? (
            <TaskEditor
              key={current.name}
              task={current}
              names={workflow.tasks.map((task) => task.name)}
              schema={taskTypes[current.type] ?? null}
              onRename={(next) => {
                setWorkflow((flow) => ({
                  ...flow,
                  tasks: flow.tasks.map((task) => ({ ...task, name: task.name === current.name ? next : task.name, depends_on: task.depends_on.map((parent) => (parent === current.name ? next : parent)) })),
                }));
                setPositions((all) => ({ ...all, [next]: all[current.name] }));
                setSelected(next);
              }}
              onChange={(change) => updateTask(current.name, change)}
            />
          ) : (
            <p className="muted">Select a task to edit it; drag from a task's bottom handle to another task to make it depend on the first.</p>
          )}
          <h2>Problems</h2>
          <ul id="diagnostics" className="errors">
            {diagnostics.map((item, index) => (
              <li key={index}>
                {item.line ? `line ${item.line}, column ${item.column}: ` : ""}
                <bdi>{item.message}</bdi>
                {item.hint ? ` (${item.hint})` : ""}
              </li>
            ))}
          </ul>
          <h2>YAML</h2>
          <pre id="workflow-yaml" className="yaml" data-yaml={yamlText}>
            {yamlText.split("\n").map((line, index) => (
              <div key={index} className={invalidLines.has(index + 1) ? "invalid-line" : ""}>
                {line || " "}
              </div>
            ))}
          </pre>
        </div>
      </div>
    </section>
  );
}

function TaskEditor({ task, names, schema, onRename, onChange }: { task: DesignTask; names: string[]; schema: JsonSchema | null; onRename: (name: string) => void; onChange: (change: (task: DesignTask) => DesignTask) => void }) {
  const [name, setName] = useState(task.name);
  const [configValues, setConfigValues] = useState<FormValues>(() => {
    const values = schema ? initialValues(schema) : {};
    for (const [key, value] of Object.entries(task.config)) values[key] = typeof value === "string" ? value : typeof value === "boolean" ? value : JSON.stringify(value);
    return values;
  });
  const [configText, setConfigText] = useState(() => JSON.stringify(task.config, null, 2));
  const [configErrors, setConfigErrors] = useState<Record<string, string>>({});
  const [retryText, setRetryText] = useState(() => (task.retry ? JSON.stringify(task.retry) : ""));
  return (
    <div className="task-editor">
      <h2>Task</h2>
      <div className="field">
        <label htmlFor="task-name">name</label>
        <input
          id="task-name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          onBlur={() => name && name !== task.name && !names.includes(name) && onRename(name)}
        />
      </div>
      <div className="field">
        <label htmlFor="task-when">when</label>
        <input id="task-when" placeholder="${{ params.enabled }}" value={task.when ?? ""} onChange={(e) => onChange((t) => ({ ...t, when: e.target.value || undefined }))} />
      </div>
      <div className="field">
        <label htmlFor="task-retry">retry (JSON: attempts, backoff, max_delay, jitter)</label>
        <input
          id="task-retry"
          value={retryText}
          onChange={(e) => {
            setRetryText(e.target.value);
            try {
              const value = e.target.value ? JSON.parse(e.target.value) : undefined;
              onChange((t) => ({ ...t, retry: value }));
            } catch {
              /* keep typing */
            }
          }}
        />
      </div>
      <div className="field">
        <label htmlFor="task-timeout">timeout (s)</label>
        <input id="task-timeout" type="number" value={task.timeout ?? ""} onChange={(e) => onChange((t) => ({ ...t, timeout: e.target.value === "" ? undefined : Number(e.target.value) }))} />
      </div>
      <div className="field">
        <label htmlFor="task-priority">priority</label>
        <input id="task-priority" type="number" value={task.priority ?? ""} onChange={(e) => onChange((t) => ({ ...t, priority: e.target.value === "" ? undefined : Number(e.target.value) }))} />
      </div>
      <div className="field">
        <label htmlFor="task-pool">pool</label>
        <input id="task-pool" value={task.pool ?? ""} onChange={(e) => onChange((t) => ({ ...t, pool: e.target.value || undefined }))} />
      </div>
      <div className="field">depends on: {task.depends_on.join(", ") || "—"}</div>
      <h3>Config ({task.type})</h3>
      {schema && Object.keys(schema.properties ?? {}).length ? (
        <SchemaForm
          schema={schema}
          values={configValues}
          errors={configErrors}
          prefix="config"
          onChange={(values) => {
            setConfigValues(values);
            const collected = collectValues(schema, values);
            setConfigErrors(collected.errors);
            onChange((t) => ({ ...t, config: withoutDefaults(schema, collected.values) }));
          }}
        />
      ) : (
        <textarea
          id="config-json"
          rows={6}
          value={configText}
          onChange={(e) => {
            setConfigText(e.target.value);
            try {
              onChange((t) => ({ ...t, config: JSON.parse(e.target.value) as Record<string, unknown> }));
            } catch {
              /* keep typing */
            }
          }}
        />
      )}
    </div>
  );
}
