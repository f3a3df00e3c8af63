// Small readers for list responses: a bare array or an object holding one under a key.
export interface RunSummary {
  run_id: string;
  workflow?: string;
  status: string;
  version?: string | null;
  created_at: number;
  finished_at?: number | null;
  last_seq?: number;
}

/** A finished run's wall time (created to finished), in seconds; null while it runs. */
export function runDuration(run: RunSummary): number | null {
  return typeof run.finished_at === "number" ? run.finished_at - run.created_at : null;
}

export function asList<T>(value: unknown, key: string): T[] {
  if (Array.isArray(value)) return value as T[];
  if (value && typeof value === "object") {
    const record = value as Record<string, unknown>;
    for (const candidate of [key, "items", "results", "data"]) if (Array.isArray(record[candidate])) return record[candidate] as T[];
  }
  return [];
}

export function seconds(value: unknown): string {
  if (typeof value !== "number" || !Number.isFinite(value)) return "";
  return value < 1 ? `${Math.round(value * 1000)} ms` : `${value.toFixed(value < 10 ? 2 : 1)} s`;
}

export function when(value: unknown): string {
  if (typeof value === "number") return new Date(value * 1000).toLocaleString();
  if (typeof value === "string") return new Date(value).toLocaleString();
  return "";
}
