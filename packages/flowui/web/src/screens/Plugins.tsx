// Installed plugins and what each provides (task types, stores, runners, hooks…).
import { useApi } from "../useApi";
import { asList } from "./shapes";

interface PluginInfo {
  name: string;
  distribution?: string | null;
  version?: string | null;
  hooks?: string[];
  provides?: Record<string, unknown> | string[];
  [key: string]: unknown;
}

function provided(plugin: PluginInfo): string[] {
  const provides = plugin.provides;
  if (Array.isArray(provides)) return provides.map(String);
  if (provides && typeof provides === "object")
    return Object.entries(provides).map(([kind, names]) => `${kind}: ${Array.isArray(names) ? names.join(", ") : typeof names === "object" ? Object.keys(names ?? {}).join(", ") : String(names)}`);
  return [];
}

export function Plugins() {
  const plugins = useApi<unknown>("/plugins");
  if (plugins.error) return <p className="error">Could not list plugins: {plugins.error}</p>;
  if (!plugins.data) return <p>Loading…</p>;
  return (
    <section>
      <h1>Plugins</h1>
      <table className="plugins">
        <thead>
          <tr>
            <th>Plugin</th>
            <th>Distribution</th>
            <th>Provides</th>
            <th>Hooks</th>
          </tr>
        </thead>
        <tbody>
          {asList<PluginInfo>(plugins.data, "plugins").map((plugin) => (
            <tr key={plugin.name}>
              <td>{plugin.name}</td>
              <td>
                {plugin.distribution ?? ""} {plugin.version ?? ""}
              </td>
              <td>
                {provided(plugin).map((line) => (
                  <div key={line}>{line}</div>
                ))}
              </td>
              <td className="muted">{(plugin.hooks ?? []).join(", ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
