// A form generated from a JSON schema (a workflow's typed params, a task type's config).
// Covers what those schemas use: string, integer, number, boolean, enum, a union with a
// string as text (JSON when it is an array or object), and JSON for the rest (arrays,
// objects, other unions), which is parsed before it is sent.
import type { JsonSchema } from "./api";

function resolve(schema: JsonSchema, root: JsonSchema): JsonSchema {
  if (schema.$ref?.startsWith("#/$defs/")) return root.$defs?.[schema.$ref.slice(8)] ?? schema;
  const options = schema.anyOf?.filter((option) => option.type !== "null");
  if (options?.length === 1) return { ...options[0], ...schema, anyOf: undefined };
  return schema;
}

function kindOf(schema: JsonSchema): string {
  if (schema.enum) return "enum";
  // A union with a string (shell's `command: str | list[str]`): typed as text, sent as JSON
  // only when the text is a JSON array or object.
  if (schema.anyOf?.some((option) => option.type === "string")) return "text-or-json";
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  return type ?? "json";
}

export type FormValues = Record<string, string | boolean>;

export function initialValues(schema: JsonSchema): FormValues {
  const values: FormValues = {};
  for (const [name, raw] of Object.entries(schema.properties ?? {})) {
    const field = resolve(raw, schema);
    const kind = kindOf(field);
    if (kind === "boolean") values[name] = field.default === true;
    else if (field.default === undefined || field.default === null) values[name] = "";
    else values[name] = kind === "string" || kind === "enum" || (kind === "text-or-json" && typeof field.default === "string") ? String(field.default) : JSON.stringify(field.default);
  }
  return values;
}

/** The typed values to send; a field left empty is left out (the server applies defaults). */
export function collectValues(schema: JsonSchema, values: FormValues): { values: Record<string, unknown>; errors: Record<string, string> } {
  const out: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const [name, raw] of Object.entries(schema.properties ?? {})) {
    const field = resolve(raw, schema);
    const kind = kindOf(field);
    const value = values[name];
    if (kind === "boolean") {
      out[name] = Boolean(value);
      continue;
    }
    const text = String(value ?? "");
    if (text === "") {
      if (schema.required?.includes(name)) errors[name] = "required";
      continue;
    }
    if (kind === "string") out[name] = text;
    else if (kind === "text-or-json") {
      let parsed: unknown = text;
      if (/^\s*[[{]/.test(text))
        try {
          parsed = JSON.parse(text);
        } catch {
          /* plain text that starts with a bracket */
        }
      out[name] = parsed;
    }
    else if (kind === "enum") out[name] = field.enum?.find((option) => String(option) === text) ?? text;
    else if (kind === "integer" || kind === "number") {
      const number = Number(text);
      if (!Number.isFinite(number) || (kind === "integer" && !Number.isInteger(number))) errors[name] = `not ${kind === "integer" ? "an integer" : "a number"}`;
      else out[name] = number;
    } else {
      try {
        out[name] = JSON.parse(text);
      } catch {
        errors[name] = "not valid JSON";
      }
    }
  }
  return { values: out, errors };
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  return keysA.length === keysB.length && keysA.every((key) => sameValue((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

/** What the user set: `values` without the fields equal to their schema default (a required
 * field is always kept). The designer writes only these, so a saved file is not a copy of the
 * type's defaults; loading it back fills the form with the defaults again. */
export function withoutDefaults(schema: JsonSchema, values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values)) {
    const raw = schema.properties?.[name];
    const field = raw ? resolve(raw, schema) : undefined;
    const required = schema.required?.includes(name) ?? false;
    const defaultValue = field?.default === undefined && field && kindOf(field) === "boolean" ? false : field?.default;
    if (!required && field && defaultValue !== undefined && sameValue(value, defaultValue)) continue;
    out[name] = value;
  }
  return out;
}

interface Props {
  schema: JsonSchema;
  values: FormValues;
  onChange: (values: FormValues) => void;
  errors?: Record<string, string>;
  prefix: string;
}

export function SchemaForm({ schema, values, onChange, errors = {}, prefix }: Props) {
  const properties = Object.entries(schema.properties ?? {});
  if (!properties.length) return <p className="muted">No fields.</p>;
  return (
    <div className="schema-form">
      {properties.map(([name, raw]) => {
        const field = resolve(raw, schema);
        const kind = kindOf(field);
        const id = `${prefix}-${name}`;
        const set = (value: string | boolean) => onChange({ ...values, [name]: value });
        let input;
        if (kind === "boolean") input = <input id={id} name={name} type="checkbox" checked={Boolean(values[name])} onChange={(e) => set(e.target.checked)} />;
        else if (kind === "enum")
          input = (
            <select id={id} name={name} value={String(values[name] ?? "")} onChange={(e) => set(e.target.value)}>
              <option value="">—</option>
              {field.enum!.map((option) => (
                <option key={String(option)} value={String(option)}>
                  {String(option)}
                </option>
              ))}
            </select>
          );
        else if (kind === "string" || kind === "text-or-json" || kind === "integer" || kind === "number")
          input = (
            <input
              id={id}
              name={name}
              type={field.writeOnly || field.format === "password" ? "password" : kind === "integer" || kind === "number" ? "number" : "text"}
              value={String(values[name] ?? "")}
              onChange={(e) => set(e.target.value)}
            />
          );
        else input = <textarea id={id} name={name} rows={3} placeholder="JSON" value={String(values[name] ?? "")} onChange={(e) => set(e.target.value)} />;
        return (
          <div className="field" key={name}>
            <label htmlFor={id}>
              {name}
              {schema.required?.includes(name) ? " *" : ""} <span className="muted">{kind}</span>
            </label>
            {input}
            {field.description && <div className="hint">{field.description}</div>}
            {errors[name] && <div className="error">{errors[name]}</div>}
          </div>
        );
      })}
    </div>
  );
}
