// Lays a DAG out off the main thread, so a big graph never freezes the page.
// Up to ELK_LIMIT nodes: ELK's layered algorithm (best picture); above: layeredLayout
// (linear time; ELK would take minutes, see docs/architecture.md).
import ELK from "elkjs/lib/elk.bundled.js";
import { layeredLayout, NODE_HEIGHT, NODE_WIDTH, type LayoutInput } from "./layered";

export const ELK_LIMIT = 500;

export interface LayoutRequest extends LayoutInput {
  id: number;
}

export interface LayoutReply {
  id: number;
  x: Float64Array;
  y: Float64Array;
  engine: "elk" | "layered";
  millis: number;
}

const elk = new ELK();

async function elkLayout(input: LayoutInput): Promise<{ x: Float64Array; y: Float64Array }> {
  const graph = await elk.layout({
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "DOWN",
      "elk.layered.spacing.nodeNodeBetweenLayers": "50",
      "elk.spacing.nodeNode": "24",
    },
    children: input.ids.map((id) => ({ id, width: NODE_WIDTH, height: NODE_HEIGHT })),
    edges: input.parents.flatMap((parents, node) =>
      parents.map((parent) => ({ id: `${parent}>${node}`, sources: [input.ids[parent]], targets: [input.ids[node]] })),
    ),
  });
  const index = new Map(input.ids.map((id, position) => [id, position]));
  const x = new Float64Array(input.ids.length);
  const y = new Float64Array(input.ids.length);
  for (const child of graph.children ?? []) {
    const position = index.get(child.id)!;
    x[position] = child.x ?? 0;
    y[position] = child.y ?? 0;
  }
  return { x, y };
}

self.onmessage = async (message: MessageEvent<LayoutRequest & { engine?: "elk" | "layered" }>) => {
  const started = performance.now();
  const request = message.data;
  const useElk = request.engine ? request.engine === "elk" : request.ids.length <= ELK_LIMIT;
  let positions;
  try {
    positions = useElk ? await elkLayout(request) : layeredLayout(request);
  } catch {
    positions = layeredLayout(request);
  }
  const reply: LayoutReply = { id: request.id, ...positions, engine: useElk ? "elk" : "layered", millis: performance.now() - started };
  (self as unknown as Worker).postMessage(reply, [reply.x.buffer, reply.y.buffer]);
};
