// The one module that knows the REST API (/api/v1) and its JSON shapes. Every screen calls
// these functions, so a change in the server's shapes is fixed here and nowhere else.
// Auth: when the server answers 401, the UI asks for a token (TokenPrompt), keeps it in
// sessionStorage and sends it as `Authorization: Bearer` on every later call.

export const API = "/api/v1";
const TOKEN_KEY = "flowbuilder.token";

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function rememberToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
  window.dispatchEvent(new Event("flowbuilder:token"));
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
  }
}

function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  const token = storedToken();
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}

/** The server's reason for an error: `{detail}`, `{reason}` or `{error}`, else the status line. */
function reasonOf(body: unknown, fallback: string): string {
  if (body && typeof body === "object") {
    const record = body as Record<string, unknown>;
    const nested = record.error as Record<string, unknown> | undefined;
    if (nested && typeof nested === "object" && typeof nested.reason === "string") return nested.reason;
    for (const key of ["reason", "detail", "error", "message"]) {
      const value = record[key];
      if (typeof value === "string") return value;
      if (value && typeof value === "object") return JSON.stringify(value);
    }
  }
  return fallback;
}

export async function request<T>(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<T> {
  const init: RequestInit = { method, headers: authHeaders({ Accept: "application/json" }) };
  if (body !== undefined) {
    (init.headers as Record<string, string>)["Content-Type"] = contentType;
    init.body = contentType === "application/json" ? JSON.stringify(body) : String(body);
  }
  const response = await fetch(API + path, init);
  const text = await response.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (response.status === 401) window.dispatchEvent(new Event("flowbuilder:unauthorized"));
  if (!response.ok) throw new ApiError(response.status, reasonOf(parsed, `${response.status} ${response.statusText}`), parsed);
  return parsed as T;
}

export const get = <T>(path: string) => request<T>("GET", path);
export const post = <T>(path: string, body?: unknown) => request<T>("POST", path, body ?? {});
/** POST a workflow file as the API takes it: raw YAML text (`application/yaml`). */
export const postYaml = <T>(path: string, text: string) => request<T>("POST", path, text, "application/yaml");

export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : "";
}

// ---- shapes -------------------------------------------------------------------------------

export interface RunEvent {
  seq: number;
  kind: string;
  task?: string | null;
  attempt?: number;
  data?: Record<string, unknown>;
  time: number;
}

export interface Diagnostic {
  file?: string;
  line: number;
  column: number;
  message: string;
  hint?: string | null;
}

export type JsonSchema = {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  format?: string;
  writeOnly?: boolean;
};

/** `GET /task-types`: each installed task type; `config_schema` null means "edit the config as JSON". */
export interface TaskTypeInfo {
  name: string;
  summary: string;
  plugin: string | null;
  config_schema: JsonSchema | null;
}

/** `GET /runs/{id}/definition`: the workflow a run was started with (not the newest version). */
export interface RunDefinition {
  run_id: string;
  workflow: string | null;
  definition: string;
  yaml: string;
  dag: { tasks: { name: string; type: string; depends_on: string[] }[] };
}

/** One task's row of `GET /workflows/{name}/stats` (flowbuilder-storage's history report). */
export interface TaskHistory {
  task: string;
  executions: number;
  success_rate: number | null;
  retry_rate?: number | null;
  p50: number | null;
  p95: number | null;
}

export interface WorkflowHistory {
  workflow: string;
  runs: number;
  events: number;
  tasks: TaskHistory[];
  trend: Record<string, unknown>[];
  slowest_runs: { run_id: string; workflow: string | null; status: string | null; seconds: number | null; created_at?: number }[];
}

/** `GET /audit`: newest first; pass `next_after` back as `after` for the next, older page. */
export interface AuditRecord {
  seq: number;
  at: string;
  actor: string;
  role: string;
  action: string;
  target: string;
  outcome: string;
  client: string;
  detail: string;
}

export interface AuditPage {
  records: AuditRecord[];
  next_after: number | null;
}
