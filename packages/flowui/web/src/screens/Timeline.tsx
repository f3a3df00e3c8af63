// A Gantt chart of attempts: one row per task, a bar per attempt, coloured by its outcome.
// Positions are set through React's style prop (CSSOM), which a strict CSP allows.
import type { Attempt } from "../runState";

const MAX_ROWS = 300;

export function Timeline({ attempts, start, end, onSelect }: { attempts: Attempt[]; start: number | null; end: number | null; onSelect: (task: string) => void }) {
  if (!attempts.length) return <p className="muted">No attempts yet.</p>;
  const first = start ?? Math.min(...attempts.map((attempt) => attempt.start));
  const now = Date.now() / 1000;
  const last = Math.max(end ?? 0, ...attempts.map((attempt) => attempt.end ?? now));
  const span = Math.max(last - first, 0.001);
  const rows = new Map<string, Attempt[]>();
  for (const attempt of attempts) {
    if (!rows.has(attempt.task)) {
      if (rows.size >= MAX_ROWS) continue;
      rows.set(attempt.task, []);
    }
    rows.get(attempt.task)!.push(attempt);
  }
  return (
    <div className="timeline">
      {[...rows].map(([task, list]) => (
        <div className="timeline-row" key={task}>
          <button className="link timeline-label" onClick={() => onSelect(task)}>
            {task}
          </button>
          <div className="timeline-track">
            {list.map((attempt) => (
              <div
                key={attempt.attempt}
                className={`timeline-bar status-${attempt.status}`}
                title={`${task} attempt ${attempt.attempt}: ${attempt.status}, ${((attempt.end ?? now) - attempt.start).toFixed(3)} s`}
                style={{ left: `${((attempt.start - first) / span) * 100}%`, width: `${Math.max(((attempt.end ?? now) - attempt.start) / span, 0.003) * 100}%` }}
              />
            ))}
          </div>
        </div>
      ))}
      {rows.size >= MAX_ROWS && <p className="muted">The first {MAX_ROWS} tasks are shown.</p>}
      <div className="muted">{(last - first).toFixed(2)} s</div>
    </div>
  );
}
