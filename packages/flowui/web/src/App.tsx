// The shell: navigation and the screen for the current hash route.
import { Audit } from "./screens/Audit";
import { Designer } from "./screens/Designer";
import { History } from "./screens/History";
import { Plugins } from "./screens/Plugins";
import { RunMonitor } from "./screens/RunMonitor";
import { Runs } from "./screens/Runs";
import { WorkflowDetail } from "./screens/WorkflowDetail";
import { Workflows } from "./screens/Workflows";
import { href, useRoute } from "./router";
import { TokenPrompt } from "./TokenPrompt";

function Screen({ route }: { route: string[] }) {
  const [screen, argument = null] = route;
  switch (screen) {
    case undefined:
    case "workflows":
      return argument ? <WorkflowDetail key={argument} name={argument} /> : <Workflows />;
    case "runs":
      return argument ? <RunMonitor key={argument} runId={argument} /> : <Runs />;
    case "history":
      return <History key={argument ?? ""} workflow={argument} />;
    case "plugins":
      return <Plugins />;
    case "audit":
      return <Audit />;
    case "designer":
      return <Designer key={argument ?? ""} name={argument} />;
    default:
      return <p className="error">No screen called “{screen}”.</p>;
  }
}

export function App() {
  const route = useRoute();
  const active = route[0] ?? "workflows";
  const link = (name: string, label: string) => (
    <a href={href(name)} className={active === name ? "active" : ""}>
      {label}
    </a>
  );
  return (
    <>
      <header>
        <span className="brand">FlowBuilder</span>
        <nav>
          {link("workflows", "Workflows")}
          {link("runs", "Runs")}
          {link("history", "History")}
          {link("designer", "Designer")}
          {link("plugins", "Plugins")}
          {link("audit", "Audit")}
        </nav>
      </header>
      <main>
        <Screen route={route} />
      </main>
      <TokenPrompt />
    </>
  );
}
