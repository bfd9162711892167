// The audit page's live tail as state. Pure: no DOM, no sockets.
//
// Frames come from /ws/audit/ and are numbered like the live page's (`seq`, the live diagram's publications): an
// `audit-snapshot` holds the newest page of the filter as of its number, each `audit` frame is the next number
// with the rows of the filter it brought (often none). A skipped number means a frame went missing: the page asks
// for a fresh snapshot. `live` is the newest page as the server holds it; `shown` is what the table shows, which
// stands still while the tail is paused.

export const PAGE = 100; // the page's size (archviz.audit.query.PAGE_SIZE)

export function emptyTail() {
  const page = { events: [], more: false };
  return { seq: null, paused: false, live: page, shown: page };
}

// The page's order: newest first by the registry's time, then by the store's id (the keyset cursor).
function newerFirst(a, b) {
  const [aTime, aId] = a.cursor.split(".");
  const [bTime, bId] = b.cursor.split(".");
  if (aTime !== bTime) return BigInt(aTime) > BigInt(bTime) ? -1 : 1;
  return Number(bId) - Number(aId);
}

function merged(page, incoming) {
  const known = new Set(page.events.map((event) => event.event_id));
  const events = [...page.events, ...incoming.filter((event) => !known.has(event.event_id))].sort(newerFirst);
  return { events: events.slice(0, PAGE), more: page.more || events.length > PAGE };
}

function settled(state) {
  return state.paused ? state : { ...state, shown: state.live };
}

export function applyTailFrame(state, frame) {
  if (frame.type === "audit-snapshot") {
    const live = { events: [...frame.events].sort(newerFirst).slice(0, PAGE), more: frame.more };
    return { state: settled({ ...state, seq: frame.seq, live }), resync: false };
  }
  if (frame.type === "audit" && state.seq !== null) {
    if (frame.seq <= state.seq) return { state, resync: false };
    if (frame.seq > state.seq + 1) return { state, resync: true };
    const live = frame.events?.length ? merged(state.live, frame.events) : state.live;
    return { state: settled({ ...state, seq: frame.seq, live }), resync: false };
  }
  return { state, resync: false };
}

export const pauseTail = (state) => ({ ...state, paused: true });
export const resumeTail = (state) => ({ ...state, paused: false, shown: state.live });

// How many rows are waiting to be shown while the tail is paused.
export function waiting(state) {
  const shown = new Set(state.shown.events.map((event) => event.event_id));
  return state.live.events.filter((event) => !shown.has(event.event_id)).length;
}

// The link to the page after the shown one: older than its last row.
export function olderQuery(state, query) {
  const last = state.shown.events.at(-1);
  if (!state.shown.more || !last) return null;
  const next = new URLSearchParams(query);
  next.set("before", last.cursor);
  return next.toString();
}
