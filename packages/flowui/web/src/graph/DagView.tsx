// The DAG of a workflow, laid out automatically, coloured by task status.
// Fluid at 20,000 tasks: only visible nodes and edges are rendered (onlyRenderVisibleElements),
// the node component is one memoised div, nodes are not draggable or selectable by default,
// and status changes arrive in batches (one React update per animation frame at most).
import { memo, useEffect, useMemo, useState } from "react";
import { Background, Controls, Handle, MiniMap, Position, ReactFlow, type Edge, type Node, type NodeProps } from "@xyflow/react";
import { layout, type TaskShape } from "./layout";

export type TaskNodeData = { label: string; status: string };
type TaskNode = Node<TaskNodeData, "task">;

const TaskNodeView = memo(function TaskNodeView({ data }: NodeProps<TaskNode>) {
  return (
    <div className={`task-node status-${data.status}`} title={`${data.label}: ${data.status}`} data-task={data.label} data-status={data.status}>
      <Handle type="target" position={Position.Top} isConnectable={false} />
      {data.label}
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

export function DagView({ tasks, statuses = {}, onSelect }: Props) {
  const [positions, setPositions] = useState<{ x: Float64Array; y: Float64Array; engine: string; millis: number } | null>(null);
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

  if (!positions) return <div className="dag-loading">Laying out {tasks.length.toLocaleString()} tasks…</div>;
  const big = tasks.length > BIG;
  let top = Infinity;
  for (const y of positions.y) top = Math.min(top, y);
  const startViewport = { x: 600, y: 40 - top * BIG_START_ZOOM, zoom: BIG_START_ZOOM };
  return (
    <div className="dag" data-engine={positions.engine} data-layout-ms={Math.round(positions.millis)} data-nodes={tasks.length}>
      <ReactFlow
        nodes={nodes}
        edges={edges}
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
