// The inventory page's state and how frames change it. Pure: no DOM, no sockets.
//
// State: {hosts: Map(host -> {revision, images: Map, containers: Map, networks: Map, volumes: Map})}.

export const KINDS = ["image", "container", "network", "volume"];

export function emptyInventory() {
  return { hosts: new Map(), pulls: new Map() };
}

function hostFrom(wire) {
  const host = { revision: wire.revision };
  for (const kind of KINDS) host[`${kind}s`] = new Map(wire[`${kind}s`].map((item) => [item.id, item]));
  return host;
}

// Returns {state, resync, changed}: `changed` lists [host, kind, id, op] for rows to flash or drop.
export function applyInventoryFrame(state, frame) {
  if (frame.type === "inventory-snapshot") {
    const hosts = new Map(Object.entries(frame.hosts).map(([name, wire]) => [name, hostFrom(wire)]));
    const pulls = new Map((frame.pulls || []).map((pull) => [pull.id, pull]));
    return { state: { hosts, pulls }, resync: false, changed: [] };
  }
  if (frame.type === "pull") {
    const pulls = new Map(state.pulls);
    pulls.set(frame.pull.id, frame.pull);
    return { state: { ...state, pulls }, resync: false, changed: [] };
  }
  if (frame.type !== "inventory") return { state, resync: false, changed: [] };
  const known = state.hosts.get(frame.host);
  if (known && frame.revision <= known.revision) return { state, resync: false, changed: [] };
  if (frame.reload || !known || frame.revision !== known.revision + 1) return { state, resync: true, changed: [] };
  const host = { revision: frame.revision };
  for (const kind of KINDS) host[`${kind}s`] = new Map(known[`${kind}s`]);
  for (const change of frame.changes) {
    const table = host[`${change.kind}s`];
    if (change.op === "remove") table.delete(change.id);
    else table.set(change.id, change.item);
  }
  const hosts = new Map(state.hosts);
  hosts.set(frame.host, host);
  return { state: { ...state, hosts }, resync: false, changed: frame.changes.map((c) => [frame.host, c.kind, c.id, c.op]) };
}

// Layers that two or more images share, biggest saving first: each is stored once, not once per image.
export function sharedLayers(images) {
  const byLayer = new Map();
  for (const image of images) {
    for (const layer of image.layers || []) {  // null while the layers are still being fetched
      const entry = byLayer.get(layer.id) || { id: layer.id, size: layer.size, images: [], createdBy: layer.created_by };
      entry.images.push(image);
      byLayer.set(layer.id, entry);
    }
  }
  return [...byLayer.values()]
    .filter((entry) => entry.images.length > 1)
    .map((entry) => ({ ...entry, saved: (entry.size || 0) * (entry.images.length - 1) }))
    .sort((a, b) => b.saved - a.saved || a.id.localeCompare(b.id));
}

export function imageName(image) {
  return image.tags[0] || (image.digests[0] ? image.digests[0].split("@")[0] + "@…" : image.id.slice(7, 19));
}

// Rows of a table, filtered by text (any cell) and sorted by a column.
export function visibleRows(rows, { text = "", column = null, descending = false }) {
  const needle = text.trim().toLowerCase();
  const filtered = needle ? rows.filter((row) => row.cells.some((cell) => String(cell.sort ?? cell.text).toLowerCase().includes(needle))) : rows;
  if (column === null) return filtered;
  const key = (row) => row.cells[column].sort ?? row.cells[column].text;
  return [...filtered].sort((a, b) => {
    const x = key(a);
    const y = key(b);
    const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return descending ? -order : order;
  });
}
