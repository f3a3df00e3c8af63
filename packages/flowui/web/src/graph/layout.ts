// The main thread's side of the layout worker: one worker, requests answered in order.
import type { LayoutReply } from "./layout.worker";

let worker: Worker | null = null;
let nextId = 1;
const waiting = new Map<number, (reply: LayoutReply) => void>();

export interface TaskShape {
  name: string;
  depends_on: string[];
}

/** The worker's reply, with the whole round trip (worker start-up, copies) measured here. */
export type Layout = LayoutReply & { roundTripMillis: number };

export function layout(tasks: TaskShape[], engine?: "elk" | "layered"): Promise<Layout> {
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
  const posted = performance.now();
  return new Promise((resolve) => {
    waiting.set(id, (reply) => resolve({ ...reply, roundTripMillis: performance.now() - posted }));
    worker!.postMessage({ id, ids: tasks.map((task) => task.name), parents, engine });
  });
}
