// Small readers for list responses: a bare array or an object holding one under a key.
export interface RunSummary {
  run_id: string;
  workflow?: string;
  status: string;
  created?: number | string;
  started?: number | string;
  finished?: number | string | null;
  duration?: number | null;
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
