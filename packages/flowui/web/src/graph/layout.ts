// The main thread's side of the layout worker: one worker, requests answered in order.
import type { LayoutReply } from "./layout.worker";

let worker: Worker | null = null;
let nextId = 1;
const waiting = new Map<number, (reply: LayoutReply) => void>();

export interface TaskShape {
  name: string;
  depends_on: string[];
}

export function layout(tasks: TaskShape[], engine?: "elk" | "layered"): Promise<LayoutReply> {
  if (!worker) {
    worker = new Worker(new URL("./layout.worker.ts", import.meta.url), { type: "module" });
    worker.onmessage = (message: MessageEvent<LayoutReply>) => {
      waiting.get(message.data.id)?.(message.data);
      waiting.delete(message.data.id);
    };
  }
  const index = new Map(tasks.map((task, position) => [task.name, position]));
  const parents = tasks.map((task) => task.depends_on.map((name) => index.get(name)).filter((value): value is number => value !== undefined));
  const id = nextId++;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    worker!.postMessage({ id, ids: tasks.map((task) => task.name), parents, engine });
  });
}
