// The live page's state and how frames change it. Pure: no DOM, no sockets.
//
// Frames are numbered publications (`seq`): a snapshot holds everything up to its number, and each delta is the
// next number. applyFrame(state, frame) returns {state, resync, applied, added}: the new state, whether the
// browser must ask for a fresh snapshot (a number was skipped: a frame went missing), whether the frame is new
// (its diagram part is to be drawn: a delta the snapshot already holds is not), and the observations it added.

export const LIMIT = 500;

export function emptyState() {
  return { seq: 0, observations: new Map(), watchers: new Map() };
}

function withObservations(state, incoming) {
  const observations = new Map(state.observations);
  const watchers = new Map(state.watchers);
  const added = [];
  for (const observation of incoming) {
    if (observation.source === "watcher") watchers.set(observation.host, observation);
    if (observations.has(observation.id)) continue;
    observations.set(observation.id, observation);
    added.push(observation);
  }
  const ids = [...observations.keys()].sort((a, b) => a - b);
  for (const id of ids.slice(0, Math.max(0, ids.length - LIMIT))) observations.delete(id);
  return { observations, watchers, added: added.filter((o) => observations.has(o.id)) };
}

export function applyFrame(state, frame) {
  if (frame.type === "snapshot") {
    const fresh = withObservations(emptyState(), frame.observations);
    for (const watcher of frame.watchers) fresh.watchers.set(watcher.host, watcher);
    return {
      state: { seq: frame.seq, observations: fresh.observations, watchers: fresh.watchers },
      resync: false,
      applied: true,
      added: fresh.added,
    };
  }
  if (frame.type === "observations") {
    if (frame.seq <= state.seq) return { state, resync: false, applied: false, added: [] };
    if (frame.seq > state.seq + 1) return { state, resync: true, applied: false, added: [] };
    const next = withObservations(state, frame.observations);
    return {
      state: { seq: frame.seq, observations: next.observations, watchers: next.watchers },
      resync: false,
      applied: true,
      added: next.added,
    };
  }
  return { state, resync: false, applied: false, added: [] };
}

// Newest first: by daemon time, then by store id.
export function newestFirst(observations) {
  return [...observations].sort((a, b) => {
    const at = BigInt(a.time_ns), bt = BigInt(b.time_ns);
    if (at !== bt) return at > bt ? -1 : 1;
    return b.id - a.id;
  });
}

export function unreachableWatchers(state) {
  return [...state.watchers.values()].filter((w) => w.kind === "watcher-unreachable");
}

// Whether anything other than the watcher's own link reports has been seen.
export function hasEvents(state) {
  for (const observation of state.observations.values()) if (observation.source !== "watcher") return true;
  return false;
}
