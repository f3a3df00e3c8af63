// Which nodes and edges of a big graph to hand to React Flow: those in or near the viewport.
// React Flow's onlyRenderVisibleElements still keeps every node in its store and walks all of
// them on each change; at 20,000 tasks its first render alone took ~9 s. A grid index over
// the laid-out positions answers "what is near this rectangle" in time proportional to the
// answer, so React Flow only ever holds a few hundred nodes.
import { NODE_HEIGHT, NODE_WIDTH } from "./layered";

const CELL = 1000;

export interface Rect {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

export interface GridIndex {
  cells: Map<string, number[]>;
  x: Float64Array;
  y: Float64Array;
}

export function buildGrid(x: Float64Array, y: Float64Array): GridIndex {
  const cells = new Map<string, number[]>();
  for (let node = 0; node < x.length; node++) {
    const key = `${Math.floor(x[node] / CELL)},${Math.floor(y[node] / CELL)}`;
    let cell = cells.get(key);
    if (!cell) cells.set(key, (cell = []));
    cell.push(node);
  }
  return { cells, x, y };
}

/** Indices of the nodes whose box meets ``rect``. */
export function nodesIn(grid: GridIndex, rect: Rect): number[] {
  const found: number[] = [];
  for (let cx = Math.floor((rect.left - NODE_WIDTH) / CELL); cx <= Math.floor(rect.right / CELL); cx++)
    for (let cy = Math.floor((rect.top - NODE_HEIGHT) / CELL); cy <= Math.floor(rect.bottom / CELL); cy++)
      for (const node of grid.cells.get(`${cx},${cy}`) ?? []) {
        const x = grid.x[node];
        const y = grid.y[node];
        if (x + NODE_WIDTH >= rect.left && x <= rect.right && y + NODE_HEIGHT >= rect.top && y <= rect.bottom) found.push(node);
      }
  return found;
}

/** The flow-coordinate rectangle a viewport shows, grown by ``margin`` of its size each side. */
export function viewRect(viewport: { x: number; y: number; zoom: number }, width: number, height: number, margin: number): Rect {
  const w = width / viewport.zoom;
  const h = height / viewport.zoom;
  const left = -viewport.x / viewport.zoom;
  const top = -viewport.y / viewport.zoom;
  return { left: left - w * margin, top: top - h * margin, right: left + w * (1 + margin), bottom: top + h * (1 + margin) };
}

export function contains(outer: Rect, inner: Rect): boolean {
  return inner.left >= outer.left && inner.top >= outer.top && inner.right <= outer.right && inner.bottom <= outer.bottom;
}
