// Server-sent events read over fetch rather than EventSource: EventSource cannot send an
// Authorization header, and the server may require a bearer token. The wire format is the
// same text/event-stream (`id:`, `event:`, `data:` lines, a blank line ends an event); on a
// dropped connection we reconnect with Last-Event-ID so no event is missed or repeated.
import { API, storedToken } from "./api";

export interface StreamMessage {
  id: string | null;
  event: string;
  data: string;
}

export function openStream(path: string, onMessage: (message: StreamMessage) => void, onState?: (state: "open" | "closed" | "error") => void): () => void {
  let stopped = false;
  let lastId: string | null = null;
  const controller = new AbortController();

  async function connect(): Promise<void> {
    while (!stopped) {
      try {
        const headers: Record<string, string> = { Accept: "text/event-stream" };
        const token = storedToken();
        if (token) headers.Authorization = `Bearer ${token}`;
        if (lastId !== null) headers["Last-Event-ID"] = lastId;
        const response = await fetch(API + path, { headers, signal: controller.signal });
        if (response.status === 401) window.dispatchEvent(new Event("flowbuilder:unauthorized"));
        if (!response.ok || !response.body) throw new Error(`stream ${response.status}`);
        onState?.("open");
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        let message: StreamMessage = { id: null, event: "message", data: "" };
        let hasData = false;
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let newline: number;
          while ((newline = buffer.search(/\r?\n/)) >= 0) {
            const line = buffer.slice(0, newline);
            buffer = buffer.slice(newline + (buffer[newline] === "\r" ? 2 : 1));
            if (line === "") {
              if (hasData) {
                if (message.id !== null) lastId = message.id;
                onMessage(message);
              }
              message = { id: null, event: "message", data: "" };
              hasData = false;
              continue;
            }
            if (line.startsWith(":")) continue;
            const colon = line.indexOf(":");
            const field = colon < 0 ? line : line.slice(0, colon);
            const valueText = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
            if (field === "data") {
              message.data = hasData ? `${message.data}\n${valueText}` : valueText;
              hasData = true;
            } else if (field === "event") message.event = valueText;
            else if (field === "id") message.id = valueText;
          }
        }
        onState?.("closed");
        return; // the server ended the stream (the run finished)
      } catch (error) {
        if (stopped) return;
        onState?.("error");
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }
  void connect();
  return () => {
    stopped = true;
    controller.abort();
  };
}
