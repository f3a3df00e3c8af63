// The designer's workflow model and its YAML form. `toYaml(fromYaml(text))` is `text` for any
// file the designer wrote (keys in one fixed order; unknown keys kept and written back), which
// the browser test checks against the server's stored copy.
import { stringify } from "yaml";
import { parseWorkflowText } from "../workflowShape";

export interface DesignTask {
  name: string;
  type: string;
  depends_on: string[];
  config: Record<string, unknown>;
  when?: string;
  retry?: Record<string, unknown>;
  timeout?: number;
  priority?: number;
  pool?: string;
  extra: Record<string, unknown>;
}

export interface DesignWorkflow {
  name: string;
  version: string;
  description?: string;
  tasks: DesignTask[];
  extra: Record<string, unknown>;
}

const TASK_KEYS = ["name", "type", "depends_on", "when", "retry", "timeout", "priority", "pool", "config"];
const WORKFLOW_KEYS = ["name", "version", "description", "tasks"];

export function emptyWorkflow(): DesignWorkflow {
  return { name: "new-workflow", version: "1", tasks: [], extra: {} };
}

function rest(record: Record<string, unknown>, known: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([key]) => !known.includes(key)));
}

/** `typed` with each field the designer has no form for in `task` (a `timeout: 5m`, text where
 * the form takes seconds) kept in `extra`, so a save writes it back instead of dropping it. */
function keepUntyped(task: Record<string, unknown>, typed: DesignTask): DesignTask {
  const extra = { ...typed.extra };
  for (const key of TASK_KEYS)
    if (task[key] !== undefined && task[key] !== null && (typed as unknown as Record<string, unknown>)[key] === undefined) extra[key] = task[key];
  return { ...typed, extra };
}

export function fromYaml(text: string): DesignWorkflow {
  const doc = parseWorkflowText(text);
  const tasks = Array.isArray(doc.tasks) ? (doc.tasks as Record<string, unknown>[]) : [];
  return {
    name: String(doc.name ?? ""),
    version: String(doc.version ?? "1"),
    description: typeof doc.description === "string" ? doc.description : undefined,
    extra: rest(doc, WORKFLOW_KEYS),
    tasks: tasks.map((task) =>
      keepUntyped(task, {
        name: String(task.name ?? ""),
        type: String(task.type ?? ""),
        depends_on: Array.isArray(task.depends_on) ? task.depends_on.map(String) : task.depends_on ? [String(task.depends_on)] : [],
        config: (task.config as Record<string, unknown>) ?? {},
        when: typeof task.when === "string" ? task.when : undefined,
        retry: task.retry as Record<string, unknown> | undefined,
        timeout: typeof task.timeout === "number" ? task.timeout : undefined,
        priority: typeof task.priority === "number" ? task.priority : undefined,
        pool: typeof task.pool === "string" ? task.pool : undefined,
        extra: rest(task, TASK_KEYS),
      }),
    ),
  };
}

export function toDocument(workflow: DesignWorkflow): Record<string, unknown> {
  const doc: Record<string, unknown> = { name: workflow.name, version: workflow.version };
  if (workflow.description) doc.description = workflow.description;
  Object.assign(doc, workflow.extra);
  doc.tasks = workflow.tasks.map((task) => {
    const out: Record<string, unknown> = { name: task.name, type: task.type };
    if (task.depends_on.length) out.depends_on = task.depends_on;
    if (task.when) out.when = task.when;
    if (task.retry && Object.keys(task.retry).length) out.retry = task.retry;
    if (task.timeout !== undefined) out.timeout = task.timeout;
    if (task.priority !== undefined) out.priority = task.priority;
    if (task.pool) out.pool = task.pool;
    for (const [key, value] of Object.entries(task.extra)) if (!(key in out)) out[key] = value; // a value set in the form wins
    if (Object.keys(task.config).length) out.config = task.config; // no `config: {}` for a task left at its defaults
    return out;
  });
  return doc;
}

export function toYaml(workflow: DesignWorkflow): string {
  return stringify(toDocument(workflow), { lineWidth: 0 });
}

export function uniqueName(workflow: DesignWorkflow, base: string): string {
  const taken = new Set(workflow.tasks.map((task) => task.name));
  for (let index = 1; ; index++) {
    const name = `${base}_${index}`;
    if (!taken.has(name)) return name;
  }
}
