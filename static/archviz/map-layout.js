// Where each box and edge of the architecture map goes, in the SVG's own units. Pure: no DOM.
//
// Three columns, as the lessons draw Docker: clients on the left, each Docker host (its daemon holding images,
// containers, networks, volumes and, below them, its runtime) in the middle, registries on the right. The
// drawing is WIDTH × HEIGHT and scales to the screen, so type sized here reads the same on a projector.

export const WIDTH = 1240;
export const HEIGHT = 660;
export const TOP = 58;
export const BOTTOM = 560;
export const COLUMNS = {
  client: { x: 12, w: 250, title: "Clients" },
  daemon: { x: 372, w: 496, title: "Docker host" },
  registry: { x: 978, w: 250, title: "Registries" },
};
const GAP = 14;
const HEADER = 62;
const FULL = 380;

function stack(count, most) {
  const height = Math.min(most, (BOTTOM - TOP - (count - 1) * GAP) / Math.max(count, 1));
  return Array.from({ length: count }, (_, index) => ({ y: TOP + index * (height + GAP), h: height }));
}

// A tall daemon box shows its parts in two rows with its runtime below them; a short one (several daemons) puts
// parts and runtime in one row under its name. Returns the runtime's place, the line the daemon-runtime edge
// takes, and how far down the side edges may attach.
function daemonInside(daemon, box, boxes) {
  const { x, y, w, h } = box;
  const pad = 14;
  const parts = daemon.parts;
  if (h >= FULL) {
    const runtime = { x: x + pad, y: y + h - pad - 92, w: w - 2 * pad, h: 92, role: "runtime" };
    const partsBottom = runtime.y - 46;
    const half = (w - 2 * pad - 10) / 2;
    const first = (partsBottom - y - HEADER) * 0.62;
    const rows = [[y + HEADER, first - 5], [y + HEADER + first + 5, partsBottom - y - HEADER - first - 5]];
    parts.forEach((part, index) => {
      const [top, height] = rows[Math.floor(index / 2)];
      boxes.set(part.id, { x: x + pad + (index % 2) * (half + 10), y: top, w: half, h: height, role: part.role });
    });
    boxes.set(daemon.runtime.id, runtime);
    const middle = x + w / 2;
    return { runtime, wire: [middle, partsBottom + 2, middle, runtime.y - 2], bottom: partsBottom };
  }
  const header = 56;
  const fifth = (w - 2 * pad - 4 * 8) / 5;
  const row = { y: y + header, h: h - header - pad };
  parts.forEach((part, index) => boxes.set(part.id, {
    x: x + pad + index * (fifth + 8), y: row.y, w: fifth, h: row.h, role: part.role,
  }));
  const runtime = { x: x + pad + 4 * (fifth + 8), y: row.y, w: fifth, h: row.h, role: "runtime" };
  boxes.set(daemon.runtime.id, runtime);
  const middle = runtime.x + runtime.w / 2;
  return { runtime, wire: [middle, y + header - 16, middle, runtime.y - 2], bottom: y + h - pad };
}

// A wire between two columns. Its label hangs off the daemon's side, over the client's or the registry's box,
// so that it never hides what the daemon holds.
function curve(x1, y1, x2, y2, toDaemon) {
  const bend = Math.max(40, Math.abs(x2 - x1) / 2);
  const label = toDaemon ? { x: x2 - 8, y: (y1 + y2) / 2, anchor: "end" } : { x: x1 + 8, y: (y1 + y2) / 2, anchor: "start" };
  return { path: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`, label };
}

// Spread n attachment points over the band [top, bottom) of a box's side.
function spread(index, count, top, bottom) {
  return top + ((index + 1) * (bottom - top)) / (count + 1);
}

// {boxes: Map(id -> {x, y, w, h, role}), edges: [{id, kind, from, to, path, label: {x, y, anchor}}],
//  empty: {client, daemon, registry}}
export function layout(state) {
  const boxes = new Map();
  const inside = new Map();
  const columnBoxes = (role, items, most) => stack(items.length, most).forEach((place, index) => {
    const { x, w } = COLUMNS[role];
    boxes.set(items[index].id, { x, y: place.y, w, h: place.h, role });
  });
  columnBoxes("client", state.clients, 132);
  columnBoxes("registry", state.registries, 200);
  columnBoxes("daemon", state.daemons, BOTTOM - TOP);
  for (const daemon of state.daemons) inside.set(daemon.id, daemonInside(daemon, boxes.get(daemon.id), boxes));

  const edges = [];
  const ends = new Map(); // daemon id -> {client: [edges], registry: [edges]}
  for (const edge of state.edges) {
    if (!boxes.has(edge.from) || !boxes.has(edge.to)) continue;
    if (edge.kind === "daemon-runtime") {
      const [x1, y1, x2, y2] = inside.get(edge.from).wire;
      edges.push({ ...edge, path: `M${x1},${y1} L${x2},${y2}`, label: { x: x1 + 14, y: (y1 + y2) / 2, anchor: "start" } });
      continue;
    }
    const daemonId = edge.kind === "client-daemon" ? edge.to : edge.from;
    const side = edge.kind === "client-daemon" ? "client" : "registry";
    if (!ends.has(daemonId)) ends.set(daemonId, { client: [], registry: [] });
    ends.get(daemonId)[side].push(edge);
  }
  for (const [daemonId, sides] of ends) {
    const daemon = boxes.get(daemonId);
    const { bottom } = inside.get(daemonId);
    sides.client.forEach((edge, index) => {
      const client = boxes.get(edge.from);
      const y2 = spread(index, sides.client.length, daemon.y + HEADER / 2, bottom);
      edges.push({ ...edge, ...curve(client.x + client.w, client.y + client.h / 2, daemon.x, y2, true) });
    });
    sides.registry.forEach((edge, index) => {
      const registry = boxes.get(edge.to);
      const y1 = spread(index, sides.registry.length, daemon.y + HEADER / 2, bottom);
      edges.push({ ...edge, ...curve(daemon.x + daemon.w, y1, registry.x, registry.y + registry.h / 2, false) });
    });
  }
  return {
    boxes,
    edges,
    empty: { client: state.clients.length === 0, daemon: state.daemons.length === 0, registry: state.registries.length === 0 },
  };
}
