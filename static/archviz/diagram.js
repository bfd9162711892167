// The sequence diagram as data, and where each Message goes on the page. No DOM access.
//
// The server decides every Message (archviz/sequence.py); this module only keeps them and lays them
// out: one row per Message, top to bottom in arrival order, with room above the first Message of an
// interaction for its title and above the first Message of a block for its `alt` label. Rows never
// move once placed, so appending is cheap and the renderer can draw only the rows on screen.
//
// Sizes come from a geometry: the live page's (LIVE, below) or the present view's (present-draw.js), so
// that both draw through the same layout and renderer. A geometry's `fit(text, room, kind, lines)` says how
// a text is written in `room` pixels: its lines (at most `lines`, the last ending in "…" if cut); `kind`
// is label, title or header (titles and headers are bold).

import { clip } from "./svg.js";

export const ROW = 34;
export const TITLE = 26;
export const ALT = 22;
export const COLUMN = 200;
export const LEFT = 110;
export const MAX_MESSAGES = 20000;
// A self-arrow's loop is this wide; its label starts after it.
export const LOOP = 46;

// Pixels per character of the live page's 13 px text, by kind of text (bold text is wider).
const LIVE_CHAR = { label: COLUMN / 30, title: 7.4, header: 6.6 };

export const LIVE = {
  font: 13, column: COLUMN, left: LEFT, row: ROW, below: ROW * 0.4, title: TITLE, alt: ALT, line: 16, maxLines: 1,
  header: 46, headerInset: [14, 6], self: 240, note: COLUMN * 1.4, noteHeight: 22, pad: 0, gap: 6, titleBaseline: 19, altBaseline: 15, tab: [44, 18],
  // One line, cut at the characters that fit on average.
  fit: (text, room, kind = "label") => [clip(text, Math.max(12, Math.floor(room / LIVE_CHAR[kind])))],
};
// Columns go left to right in this order of roles (as in Docker's own architecture picture), and in
// order of first appearance within a role.
const ROLE_ORDER = ["user", "client", "daemon", "runtime", "registry"];

// `lanes`: participant ids that hold their columns from the start, in this order (the present view
// knows every lane of a session up front; the live page adds lanes as parties take part).
export function emptyDiagram(filter = { hiddenRoles: new Set(), since: null, until: null }, geometry = LIVE, lanes = []) {
  return {
    participants: [],
    messages: [],
    messageIds: new Set(),
    interactions: new Map(),
    filter,
    geometry,
    lanes,
    ...emptyLayout(lanes),
  };
}

function emptyLayout(lanes) {
  return { columns: new Map(lanes.map((id, index) => [id, index])), rows: [], height: 0, spans: new Map(), blockSpans: new Map() };
}

// Fold a `sequence` part of a frame in. Returns the index of the first new row (rows from there on
// were added) and whether the columns changed (a participant appeared).
export function applySequence(diagram, sequence) {
  const firstNewRow = diagram.rows.length;
  const columnsBefore = diagram.columns.size;
  for (const participant of sequence.participants) {
    if (!diagram.participants.some((p) => p.id === participant.id)) diagram.participants.push(participant);
  }
  for (const interaction of sequence.interactions) diagram.interactions.set(interaction.id, interaction);
  let revised = false;
  for (const message of sequence.messages) {
    if (diagram.messageIds.has(message.id)) {
      // Sent again with the same id: the server revised it (a command's typed line, once its title is known).
      const known = diagram.messages.find((m) => m.id === message.id);
      if (known && known.label !== message.label) {
        known.label = message.label;
        revised = true;
      }
      continue;
    }
    diagram.messageIds.add(message.id);
    diagram.messages.push(message);
    if (shown(diagram, message)) place(diagram, message);
  }
  if (diagram.messages.length > MAX_MESSAGES * 1.1) {
    const dropped = diagram.messages.splice(0, diagram.messages.length - MAX_MESSAGES);
    for (const message of dropped) diagram.messageIds.delete(message.id);
    relayout(diagram);
    return { firstNewRow: 0, columnsChanged: true, relaid: true };
  }
  return { firstNewRow, columnsChanged: diagram.columns.size !== columnsBefore, relaid: revised };
}

export function setFilter(diagram, filter) {
  diagram.filter = filter;
  relayout(diagram);
}

export function relayout(diagram) {
  Object.assign(diagram, emptyLayout(diagram.lanes));
  for (const message of diagram.messages) if (shown(diagram, message)) place(diagram, message);
}

function participantRole(diagram, id) {
  const participant = diagram.participants.find((p) => p.id === id);
  return participant ? participant.role : id.split(":")[0];
}

export function shown(diagram, message) {
  const { hiddenRoles, since, until } = diagram.filter;
  if (hiddenRoles.has(participantRole(diagram, message.sender))) return false;
  if (hiddenRoles.has(participantRole(diagram, message.receiver))) return false;
  const time = BigInt(message.time_ns);
  if (since !== null && time < since) return false;
  if (until !== null && time > until) return false;
  return true;
}

function takePart(diagram, id) {
  if (diagram.columns.has(id)) return;
  const ids = [...diagram.columns.keys(), id];
  const rank = (participant) => {
    const role = ROLE_ORDER.indexOf(participantRole(diagram, participant));
    return role === -1 ? ROLE_ORDER.length : role;
  };
  ids.sort((a, b) => rank(a) - rank(b) || ids.indexOf(a) - ids.indexOf(b));
  diagram.columns = new Map(ids.map((participant, index) => [participant, index]));
}

export function columnX(index, geometry = LIVE) {
  return geometry.left + index * geometry.column;
}

// Where a Message's label is written and the room it has: `x` and `anchor` as SVG's text-anchor, and the
// band [left, right] it must stay inside. Between two lanes: centred on the arrow. A self-arrow: after
// its loop, or before its lifeline where the drawing ends too soon after it. A note: inside its box.
export function labelRoom(diagram, message) {
  const g = diagram.geometry;
  const from = columnX(diagram.columns.get(message.sender) ?? 0, g);
  const to = columnX(diagram.columns.get(message.receiver) ?? 0, g);
  if (message.kind === "note") {
    const [left, right] = noteBox(diagram, from);
    return { x: (left + right) / 2, anchor: "middle", left: left + 6, right: right - 6 };
  }
  if (from === to) {
    const right = Math.min(from + LOOP + g.self, width(diagram) - 4);
    if (right - (from + LOOP) >= g.self / 2) return { x: from + LOOP, anchor: "start", left: from + LOOP, right };
    return { x: from - 10, anchor: "end", left: Math.max(from - 10 - g.self, 4), right: from - 10 };
  }
  const half = Math.abs(to - from) / 2 - g.pad;
  return { x: (from + to) / 2, anchor: "middle", left: (from + to) / 2 - half, right: (from + to) / 2 + half };
}

// A note's box around its lane, kept inside the drawing.
export function noteBox(diagram, x) {
  const half = diagram.geometry.note / 2;
  const left = Math.max(0, Math.min(x - half, width(diagram) - 2 * half));
  return [left, left + 2 * half];
}

// The lines a Message's label takes, as its geometry writes them in its room.
export function labelLines(diagram, message) {
  const room = labelRoom(diagram, message);
  const lines = message.kind === "note" ? 1 : diagram.geometry.maxLines;
  return diagram.geometry.fit(message.label, room.right - room.left, "label", lines);
}

// The height of a Message's row, its label's lines included (titles and alt labels are added on top).
export function messageHeight(diagram, message) {
  const g = diagram.geometry;
  if (g.maxLines === 1 || message.kind === "note") return g.row;
  return g.row + (labelLines(diagram, message).length - 1) * g.line;
}

function place(diagram, message) {
  // A participant gets its column when it first takes part in what is shown.
  takePart(diagram, message.sender);
  takePart(diagram, message.receiver);
  const startsInteraction = message.interaction !== null && !diagram.spans.has(message.interaction);
  const startsBlock = message.block !== null && !diagram.blockSpans.has(message.block);
  const g = diagram.geometry;
  const top = diagram.height;
  const extra = (startsInteraction ? g.title : 0) + (startsBlock ? g.alt : 0);
  const bottom = top + extra + messageHeight(diagram, message);
  const row = { message, top, y: bottom - g.below, bottom };
  const index = diagram.rows.length;
  diagram.rows.push(row);
  diagram.height = row.bottom;
  if (message.interaction !== null) widen(diagram.spans, message.interaction, row, index, startsInteraction ? top : null);
  if (message.block !== null) widen(diagram.blockSpans, message.block, row, index, startsBlock ? top + (startsInteraction ? g.title : 0) : null);
}

function widen(spans, id, row, index, top) {
  let span = spans.get(id);
  if (!span) {
    span = { first: index, last: index, top, bottom: row.bottom, participants: new Set(), lanes: new Map() };
    spans.set(id, span);
  }
  span.last = index;
  span.bottom = row.bottom;
  span.participants.add(row.message.sender).add(row.message.receiver);
  // Activation: a participant is busy from the first to the last arrow that reaches it.
  const lane = span.lanes.get(row.message.receiver);
  if (lane) lane[1] = row.y;
  else span.lanes.set(row.message.receiver, [row.y, row.y]);
}

// The leftmost and rightmost column a span's participants occupy.
export function spanColumns(diagram, span) {
  const columns = [...span.participants].map((id) => diagram.columns.get(id));
  return [Math.min(...columns), Math.max(...columns)];
}

export function rowColumns(diagram, row) {
  return [diagram.columns.get(row.message.sender), diagram.columns.get(row.message.receiver)];
}

// Rows whose band [top, bottom) meets the window [from, to): binary search on tops, which only grow.
export function visibleRows(diagram, from, to) {
  const rows = diagram.rows;
  let low = 0;
  let high = rows.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (rows[middle].bottom <= from) low = middle + 1;
    else high = middle;
  }
  let end = low;
  while (end < rows.length && rows[end].top < to) end += 1;
  return [low, end];
}

// The drawing's width: the live page leaves 60 px after the last lane's column; a geometry with a fixed
// `width` (the present view, whose lanes share the screen) is exactly that wide.
export function width(diagram) {
  const g = diagram.geometry;
  return g.width ?? columnX(Math.max(diagram.columns.size, 1), g) - g.column / 2 + 60;
}

// The participants in column order, for headers and exports.
export function orderedParticipants(diagram) {
  const byId = new Map(diagram.participants.map((p) => [p.id, p]));
  return [...diagram.columns.keys()].map((id) => byId.get(id) || { id, role: id.split(":")[0], label: id });
}
