// A workflow's tasks as the DAG and the designer need them, from the API's workflow document:
// either a `tasks` list or the stored YAML/JSON definition (parsed here with the yaml library).
import { isScalar, parseDocument } from "yaml";
import type { JsonSchema } from "./api";

export interface TaskDoc {
  name: string;
  type?: string;
  depends_on?: string[] | string;
  [key: string]: unknown;
}

export interface WorkflowDoc {
  name: string;
  version?: string;
  description?: string;
  tasks?: TaskDoc[];
  params?: Record<string, { type?: string; default?: unknown; description?: string; required?: boolean; choices?: unknown[]; secret?: boolean }>;
  [key: string]: unknown;
}

const TEXT_FIELDS = ["version", "description"];

/**
 * A workflow file's YAML as data, with `version` and `description` as the text the file wrote:
 * the server reads `version: 2.0` and `description: 1e3` as the texts "2.0" and "1e3", where
 * a YAML parser makes numbers of them (2 and 1000), shown so and written back so by the designer.
 */
export function parseWorkflowText(text: string): Record<string, unknown> {
  const document = parseDocument(text);
  if (document.errors.length) throw document.errors[0];
  const doc = document.toJS();
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) return {};
  for (const key of TEXT_FIELDS) {
    const value = doc[key];
    if (value === undefined || value === null || typeof value === "string") continue;
    const node = document.get(key, true);
    doc[key] = isScalar(node) && typeof node.source === "string" ? node.source : String(value);
  }
  return doc as Record<string, unknown>;
}

/**
 * The workflow file behind `GET /workflows/{name}` (`yaml`: its text; `definition` is a digest).
 * With the server's compiled `dag` beside it, only the file's top-level keys other than
 * `tasks` are parsed: parsing the YAML of 20,000 tasks in the browser takes seconds, and the
 * DAG already has what the tasks list would give.
 */
export function workflowDocument(response: Record<string, unknown>): WorkflowDoc {
  if (typeof response.yaml === "string" && response.dag) {
    const header = withoutTopLevelKey(response.yaml, "tasks");
    if (header !== null) return { ...(parseWorkflowText(header) as WorkflowDoc), name: String(response.name ?? "") };
  }
  for (const key of ["yaml", "document"]) {
    const value = response[key];
    if (typeof value === "string") return parseWorkflowText(value) as WorkflowDoc;
    if (value && typeof value === "object" && Array.isArray((value as WorkflowDoc).tasks)) return value as WorkflowDoc;
  }
  return response as unknown as WorkflowDoc;
}

/** `text` without the block of top-level key `key` (null when the file is not a block mapping). */
function withoutTopLevelKey(text: string, key: string): string | null {
  const lines = text.split("\n");
  const kept: string[] = [];
  let skipping = false;
  for (const line of lines) {
    const topLevel = /^[^\s#-]/.test(line);
    if (topLevel) {
      if (line.startsWith("{") || line.startsWith("[")) return null;
      skipping = line.startsWith(`${key}:`) || line.startsWith(`"${key}":`) || line.startsWith(`'${key}':`);
    }
    if (!skipping) kept.push(line);
  }
  return kept.join("\n");
}

export function dependencies(task: TaskDoc): string[] {
  const value = task.depends_on;
  if (!value) return [];
  return Array.isArray(value) ? value.map(String) : [String(value)];
}

/** The DAG: the server's compiled one (`dag.tasks`) when given, else the file's tasks. */
export function taskShapes(doc: WorkflowDoc, response?: Record<string, unknown> | null): { name: string; depends_on: string[] }[] {
  const dag = response?.dag as { tasks?: { name: string; depends_on: string[] }[] } | undefined;
  if (dag?.tasks) return dag.tasks;
  return (doc.tasks ?? []).map((task) => ({ name: task.name, depends_on: dependencies(task) }));
}

const PARAM_TYPES: Record<string, string> = { string: "string", integer: "integer", number: "number", boolean: "boolean", list: "array", array: "array", object: "object", dict: "object" };

/** The JSON schema of a workflow's params: from the server when it gives one, else from `params`. */
export function paramsSchema(response: Record<string, unknown>, doc: WorkflowDoc): JsonSchema {
  const given = response.params_schema;
  if (given && typeof given === "object") return given as JsonSchema;
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [name, param] of Object.entries(doc.params ?? {})) {
    properties[name] = {
      type: PARAM_TYPES[param?.type ?? "string"] ?? "string",
      default: param?.default ?? undefined,
      description: param?.description,
      enum: param?.choices ?? undefined,
      writeOnly: param?.secret || undefined,
    };
    if (param?.required || param?.default === undefined || param?.default === null) required.push(name);
  }
  return { type: "object", properties, required };
}
