// Asks for an API token when the server answers 401, keeps it in sessionStorage (gone when
// the tab closes) and reloads the screen's data.
import { useEffect, useState } from "react";
import { rememberToken } from "./api";

export function TokenPrompt() {
  const [open, setOpen] = useState(false);
  const [token, setToken] = useState("");
  useEffect(() => {
    const show = () => setOpen(true);
    window.addEventListener("flowbuilder:unauthorized", show);
    return () => window.removeEventListener("flowbuilder:unauthorized", show);
  }, []);
  if (!open) return null;
  return (
    <div className="overlay">
      <form
        className="token-prompt"
        onSubmit={(event) => {
          event.preventDefault();
          rememberToken(token.trim());
          setOpen(false);
        }}
      >
        <h2>API token needed</h2>
        <p>This server requires a token. It is kept for this browser tab only.</p>
        <input id="token" type="password" autoFocus value={token} onChange={(e) => setToken(e.target.value)} placeholder="token" />
        <button type="submit" disabled={!token.trim()}>
          Use token
        </button>
      </form>
    </div>
  );
}
