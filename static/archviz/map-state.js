// The architecture map's state and how /ws/map/ frames change it. Pure: no DOM, no sockets, no clock (the
// caller passes `now`, in milliseconds).
//
// The server decides everything drawn: the boxes and edges (a "map" frame) and which edge or box each Message
// lights ("map-traffic"); this module only keeps them, and forgets a lit edge HOLD_MS after its last Message.

export const HOLD_MS = 2500;
export const PULL_KEPT_MS = 6000;
export const TICKER = 3;
const FINISHED = new Set(["done", "failed", "cancelled"]);

export function emptyMap() {
  return { state: null, lit: new Map(), counts: new Map(), pulls: new Map(), ticker: [] };
}

function withTraffic(map, traffic, now) {
  const lit = new Map(map.lit);
  const counts = new Map(map.counts);
  const ticker = [...map.ticker];
  for (const entry of traffic) {
    const key = entry.edge || entry.box;
    if (!key) continue;
    lit.set(key, { ...entry, until: now + HOLD_MS });
    counts.set(key, (counts.get(key) || 0) + 1);
    ticker.push(entry);
  }
  return { ...map, lit, counts, ticker: ticker.slice(-TICKER) };
}

// Returns the new map. Frames of unknown types (and "error") change nothing.
export function applyMapFrame(map, frame, now) {
  if (frame.type === "map") return { ...map, state: frame.state };
  if (frame.type === "map-traffic") return withTraffic(map, frame.traffic || [], now);
  if (frame.type === "map-pull" && frame.pull) {
    const pulls = new Map(map.pulls);
    pulls.set(frame.pull.id, { ...frame.pull, until: FINISHED.has(frame.pull.status) ? now + PULL_KEPT_MS : null });
    return { ...map, pulls };
  }
  return map;
}

// What is lit at `now`: edge or box id -> the latest traffic entry that lit it.
export function litAt(map, now) {
  return new Map([...map.lit].filter(([, entry]) => entry.until > now));
}

// The pulls still drawn at `now` on a daemon (by its host, as the pull names it).
export function pullsAt(map, now, host) {
  return [...map.pulls.values()].filter((pull) => pull.host === host && (pull.until === null || pull.until > now));
}

// When the next lit edge or finished pull goes out, or null when nothing will.
export function nextChange(map, now) {
  const times = [...[...map.lit.values()].map((e) => e.until), ...[...map.pulls.values()].map((p) => p.until)]
    .filter((time) => time !== null && time > now);
  return times.length ? Math.min(...times) : null;
}

// Every box of a state by id: clients, daemons, their runtimes and parts, registries.
export function boxesOf(state) {
  const boxes = new Map();
  if (!state) return boxes;
  for (const box of [...state.clients, ...state.registries]) boxes.set(box.id, box);
  for (const daemon of state.daemons) {
    boxes.set(daemon.id, daemon);
    boxes.set(daemon.runtime.id, daemon.runtime);
    for (const part of daemon.parts) boxes.set(part.id, part);
  }
  return boxes;
}

const ROLE_NAMES = { user: "User", client: "Client", daemon: "Daemon", runtime: "Runtime", registry: "Registry" };

// A traffic entry as one line of the ticker: "Client → Daemon: pull nginx:latest".
export function tickerLine(entry) {
  const from = ROLE_NAMES[entry.sender_role] || entry.sender_role;
  const to = ROLE_NAMES[entry.receiver_role] || entry.receiver_role;
  return entry.sender_role === entry.receiver_role ? `${from}: ${entry.label}` : `${from} → ${to}: ${entry.label}`;
}
