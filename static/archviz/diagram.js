// The sequence diagram as data, and where each Message goes on the page. No DOM access.
//
// The server decides every Message (archviz/sequence.py); this module only keeps them and lays them
// out: one row per Message, top to bottom in arrival order, with room above the first Message of an
// interaction for its title and above the first Message of a block for its `alt` label. Rows never
// move once placed, so appending is cheap and the renderer can draw only the rows on screen.

export const ROW = 34;
export const TITLE = 26;
export const ALT = 22;
export const COLUMN = 200;
export const LEFT = 110;
export const MAX_MESSAGES = 20000;
// Columns go left to right in this order of roles (as in Docker's own architecture picture), and in
// order of first appearance within a role.
const ROLE_ORDER = ["user", "client", "daemon", "runtime", "registry"];

export function emptyDiagram(filter = { hiddenRoles: new Set(), since: null, until: null }) {
  return {
    participants: [],
    messages: [],
    messageIds: new Set(),
    interactions: new Map(),
    filter,
    ...emptyLayout(),
  };
}

function emptyLayout() {
  return { columns: new Map(), rows: [], height: 0, spans: new Map(), blockSpans: new Map() };
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
  Object.assign(diagram, emptyLayout());
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

export function columnX(index) {
  return LEFT + index * COLUMN;
}

function place(diagram, message) {
  // A participant gets its column when it first takes part in what is shown.
  takePart(diagram, message.sender);
  takePart(diagram, message.receiver);
  const startsInteraction = message.interaction !== null && !diagram.spans.has(message.interaction);
  const startsBlock = message.block !== null && !diagram.blockSpans.has(message.block);
  const top = diagram.height;
  const extra = (startsInteraction ? TITLE : 0) + (startsBlock ? ALT : 0);
  const row = { message, top, y: top + extra + ROW * 0.6, bottom: top + extra + ROW };
  const index = diagram.rows.length;
  diagram.rows.push(row);
  diagram.height = row.bottom;
  if (message.interaction !== null) widen(diagram.spans, message.interaction, row, index, startsInteraction ? top : null);
  if (message.block !== null) widen(diagram.blockSpans, message.block, row, index, startsBlock ? top + (startsInteraction ? TITLE : 0) : null);
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

export function width(diagram) {
  return columnX(Math.max(diagram.columns.size, 1)) - COLUMN / 2 + 60;
}

// The participants in column order, for headers and exports.
export function orderedParticipants(diagram) {
  const byId = new Map(diagram.participants.map((p) => [p.id, p]));
  return [...diagram.columns.keys()].map((id) => byId.get(id) || { id, role: id.split(":")[0], label: id });
}
