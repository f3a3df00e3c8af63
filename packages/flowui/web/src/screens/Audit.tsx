// The audit log (admins): who did what, when, and how it ended, newest first, from
// `GET /audit`. "Older" fetches the next page with the cursor the server returned, so
// records appended meanwhile never shift what is already shown.
import { useEffect, useState } from "react";
import { get, query, type AuditPage, type AuditRecord } from "../api";

export function Audit() {
  const [records, setRecords] = useState<AuditRecord[]>([]);
  const [cursor, setCursor] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);

  const load = (after: number | null, replace: boolean) =>
    get<AuditPage>(`/audit${query({ after, limit: 50 })}`).then(
      (page) => {
        setRecords((shown) => (replace ? page.records : [...shown, ...page.records]));
        setCursor(page.next_after);
        setError(null);
      },
      (reason: Error) => setError(reason.message),
    );

  useEffect(() => {
    const reload = () => setGeneration((value) => value + 1);
    window.addEventListener("flowbuilder:token", reload);
    return () => window.removeEventListener("flowbuilder:token", reload);
  }, []);
  useEffect(() => {
    void load(null, true);
  }, [generation]);

  return (
    <section>
      <h1>
        Audit log <button onClick={() => setGeneration((value) => value + 1)}>Refresh</button>
      </h1>
      {error && <p className="error">Audit: {error}</p>}
      <table className="stats" id="audit-log">
        <thead>
          <tr>
            <th>#</th>
            <th>When</th>
            <th>Who</th>
            <th>Role</th>
            <th>Action</th>
            <th>Target</th>
            <th>Outcome</th>
            <th>From</th>
          </tr>
        </thead>
        <tbody>
          {records.map((record) => (
            <tr key={record.seq} data-action={record.action} data-target={record.target}>
              <td>{record.seq}</td>
              <td>{new Date(record.at).toLocaleString()}</td>
              <td>{record.actor}</td>
              <td>{record.role}</td>
              <td>
                <code>{record.action}</code>
              </td>
              <td>{record.target}</td>
              <td>{record.outcome}</td>
              <td>{record.client}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {cursor !== null && (
        <button id="audit-older" onClick={() => void load(cursor, false)}>
          Older
        </button>
      )}
    </section>
  );
}
