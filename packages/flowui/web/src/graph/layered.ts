// A layered (Sugiyama-style) layout in linear time, for graphs too big for ELK.
// 1. Layers by longest path from the roots (Kahn's topological order): every edge points
//    down at least one layer, as in ELK's layered algorithm.
// 2. Order within a layer by the barycentre of each node's parents (one downward sweep),
//    which removes most crossings of fan-out/fan-in pipelines at O(V + E) cost.
// 3. Coordinates on a grid, each layer centred. Very wide layers wrap into sub-rows so the
//    picture keeps a usable aspect ratio.
// ELK's crossing minimisation and node placement are super-linear; at 20,000 tasks it takes
// far longer than a user waits (docs/architecture.md has the measurement).

export interface LayoutInput {
  ids: string[];
  parents: number[][]; // parents[i]: indices of the nodes node i depends on
}

export interface Positions {
  x: Float64Array;
  y: Float64Array;
}

export const NODE_WIDTH = 160;
export const NODE_HEIGHT = 36;
const GAP_X = 24;
const GAP_Y = 70;
const MAX_ROW = 200;

export function layeredLayout(input: LayoutInput): Positions {
  const count = input.ids.length;
  const children: number[][] = Array.from({ length: count }, () => []);
  const indegree = new Int32Array(count);
  input.parents.forEach((parents, node) => {
    for (const parent of parents) {
      children[parent].push(node);
      indegree[node]++;
    }
  });
  const layer = new Int32Array(count);
  const queue: number[] = [];
  for (let node = 0; node < count; node++) if (indegree[node] === 0) queue.push(node);
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head];
    for (const child of children[node]) {
      if (layer[node] + 1 > layer[child]) layer[child] = layer[node] + 1;
      if (--indegree[child] === 0) queue.push(child);
    }
  }
  // A cycle (the server rejects those, but be safe) leaves nodes unvisited: put them last.
  let deepest = 0;
  for (let node = 0; node < count; node++) deepest = Math.max(deepest, layer[node]);
  const layers: number[][] = Array.from({ length: deepest + 1 }, () => []);
  for (let node = 0; node < count; node++) layers[layer[node]].push(node);

  const order = new Float64Array(count);
  layers[0].forEach((node, position) => (order[node] = position));
  for (let depth = 1; depth < layers.length; depth++) {
    const nodes = layers[depth];
    const weight = new Float64Array(nodes.length);
    nodes.forEach((node, position) => {
      const parents = input.parents[node];
      let sum = 0;
      for (const parent of parents) sum += order[parent];
      weight[position] = parents.length ? sum / parents.length : position;
    });
    const sorted = nodes.map((node, position) => [weight[position], node] as const).sort((a, b) => a[0] - b[0]);
    sorted.forEach(([, node], position) => (order[node] = position));
    layers[depth] = sorted.map(([, node]) => node);
  }

  const x = new Float64Array(count);
  const y = new Float64Array(count);
  let top = 0;
  for (const nodes of layers) {
    const rows = Math.max(1, Math.ceil(nodes.length / MAX_ROW));
    const perRow = Math.ceil(nodes.length / rows);
    for (let row = 0; row < rows; row++) {
      const slice = nodes.slice(row * perRow, (row + 1) * perRow);
      const width = slice.length * (NODE_WIDTH + GAP_X);
      slice.forEach((node, position) => {
        x[node] = position * (NODE_WIDTH + GAP_X) - width / 2;
        y[node] = top;
      });
      top += NODE_HEIGHT + GAP_Y;
    }
  }
  return { x, y };
}
