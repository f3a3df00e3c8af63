// The DAG of a workflow, laid out automatically, coloured by task status.
// Fluid at 20,000 tasks: only visible nodes and edges are rendered (onlyRenderVisibleElements),
// the node component is one memoised div, nodes are not draggable or selectable by default,
// and status changes arrive in batches (one React update per animation frame at most).
import { memo, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Background, Controls, Handle, MiniMap, Position, ReactFlow, type Edge, type Node, type NodeProps, type Viewport } from "@xyflow/react";
import { buildGrid, contains, nodesIn, viewRect, type Rect } from "./culling";
import { layout, type Layout, type TaskShape } from "./layout";

export type TaskNodeData = { label: string; status: string };
type TaskNode = Node<TaskNodeData, "task">;

const TaskNodeView = memo(function TaskNodeView({ data }: NodeProps<TaskNode>) {
  return (
    <div className={`task-node status-${data.status}`} title={`${data.label}: ${data.status}`} data-task={data.label} data-status={data.status}>
      <Handle type="target" position={Position.Top} isConnectable={false} />
      <span className="task-label">{data.label}</span>
      <Handle type="source" position={Position.Bottom} isConnectable={false} />
    </div>
  );
});

const nodeTypes = { task: TaskNodeView };
/** Above this many tasks the view opens zoomed in on the roots instead of fitting the whole
 * graph, and cannot zoom out past BIG_MIN_ZOOM: fitting 20,000 nodes on screen would make all
 * of them "visible" and defeat onlyRenderVisibleElements (about 1,500 nodes at most render). */
const BIG = 2000;
const BIG_MIN_ZOOM = 0.25;
const BIG_START_ZOOM = 0.6;

interface Props {
  tasks: TaskShape[];
  statuses?: Record<string, string>;
  onSelect?: (task: string) => void;
}

const NO_STATUSES: Record<string, string> = {};

export function DagView({ tasks, statuses = NO_STATUSES, onSelect }: Props) {
  const [positions, setPositions] = useState<Layout | null>(null);
  useEffect(() => {
    let current = true;
    setPositions(null);
    void layout(tasks).then((reply) => current && setPositions(reply));
    return () => {
      current = false;
    };
  }, [tasks]);

  const nodes: TaskNode[] = useMemo(() => {
    if (!positions) return [];
    return tasks.map((task, index) => ({
      id: task.name,
      type: "task",
      position: { x: positions.x[index], y: positions.y[index] },
      data: { label: task.name, status: statuses[task.name] ?? "pending" },
      draggable: false,
      connectable: false,
    }));
  }, [tasks, positions, statuses]);

  const edges: Edge[] = useMemo(
    () =>
      tasks.flatMap((task) =>
        task.depends_on.map((parent) => ({ id: `${parent}->${task.name}`, source: parent, target: task.name, type: tasks.length > BIG ? "straight" : "default", focusable: false })),
      ),
    [tasks],
  );

  // Big graphs: React Flow gets only the nodes near the viewport (and the edges between them).
  // The set is recomputed when the view leaves the padded area it was computed for, or zooms.
  const big = tasks.length > BIG;
  const grid = useMemo(() => (big && positions ? buildGrid(positions.x, positions.y) : null), [big, positions]);
  const edgesByTarget = useMemo(() => {
    const byTarget = new Map<string, Edge[]>();
    for (const edge of edges) {
      const list = byTarget.get(edge.target);
      if (list) list.push(edge);
      else byTarget.set(edge.target, [edge]);
    }
    return byTarget;
  }, [edges]);
  const container = useRef<HTMLDivElement>(null);
  const [covered, setCovered] = useState<{ rect: Rect; zoom: number } | null>(null);
  const startViewport = useMemo(() => {
    let top = Infinity;
    for (const y of positions?.y ?? []) top = Math.min(top, y);
    return { x: 600, y: 40 - (Number.isFinite(top) ? top : 0) * BIG_START_ZOOM, zoom: BIG_START_ZOOM };
  }, [positions]);
  const frame = useRef(0);
  const follow = useCallback(
    (viewport: Viewport) => {
      if (frame.current) return;
      frame.current = requestAnimationFrame(() => {
        frame.current = 0;
        const box = container.current?.getBoundingClientRect();
        const width = box?.width || 1400;
        const height = box?.height || 900;
        setCovered((current) => {
          const inView = viewRect(viewport, width, height, 0);
          if (current && Math.abs(current.zoom - viewport.zoom) < viewport.zoom * 0.1 && contains(current.rect, inView)) return current;
          return { rect: viewRect(viewport, width, height, 0.5), zoom: viewport.zoom };
        });
      });
    },
    [],
  );
  useEffect(() => {
    if (big && positions) follow(startViewport);
  }, [big, positions, startViewport, follow]);
  const shown = useMemo(() => {
    if (!big) return { nodes, edges };
    if (!grid || !covered) return { nodes: [], edges: [] };
    const picked = nodesIn(grid, covered.rect).map((index) => nodes[index]);
    const ids = new Set(picked.map((node) => node.id));
    const between = picked.flatMap((node) => (edgesByTarget.get(node.id) ?? []).filter((edge) => ids.has(edge.source)));
    return { nodes: picked, edges: between };
  }, [big, nodes, edges, grid, covered, edgesByTarget]);

  if (!positions) return <div className="dag-loading">Laying out {tasks.length.toLocaleString()} tasks…</div>;
  return (
    <div ref={container} className="dag" data-engine={positions.engine} data-layout-ms={Math.round(positions.millis)} data-layout-round-trip-ms={Math.round(positions.roundTripMillis)} data-nodes={tasks.length}>
      <ReactFlow
        nodes={shown.nodes}
        edges={shown.edges}
        onMove={big ? (_, viewport) => follow(viewport) : undefined}
        nodeTypes={nodeTypes}
        onlyRenderVisibleElements
        nodesDraggable={false}
        nodesConnectable={false}
        elementsSelectable={!big}
        minZoom={big ? BIG_MIN_ZOOM : 0.05}
        maxZoom={2}
        fitView={!big}
        fitViewOptions={{ maxZoom: 1 }}
        defaultViewport={big ? startViewport : undefined}
        proOptions={{ hideAttribution: true }}
        onNodeClick={(_, node) => onSelect?.(node.id)}
      >
        <Background />
        <Controls showInteractive={false} />
        {!big && <MiniMap pannable zoomable />}
      </ReactFlow>
      <div className="dag-caption">
        {tasks.length.toLocaleString()} tasks, laid out by {positions.engine === "elk" ? "ELK" : "the layered layout"} in {Math.round(positions.millis)} ms
      </div>
    </div>
  );
}
