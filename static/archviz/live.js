// The live page: keeps the state (state.js, diagram.js) and draws it. It decides nothing about the data.

import { applyFrame, emptyState, hasEvents, newestFirst, unreachableWatchers } from "./state.js";
import { applySequence, emptyDiagram, setFilter } from "./diagram.js";
import { clockTime, details, party } from "./events.js";
import { createSequenceView, standaloneSvg } from "./sequence.js";
import { openSocket } from "./socket.js";

const SELECTORS = {
  body: "#events tbody",
  empty: "#empty",
  status: "#daemon-status",
  statusTitle: ".daemon-status-title",
  statusMessage: ".daemon-status-message",
  statusHint: ".daemon-status-hint",
  scroller: "#sequence-scroller",
  header: "#sequence-header",
  sequenceEmpty: "#sequence-empty",
  jump: "#jump-latest",
  follow: "#follow",
  roles: "input[name=role]",
  since: "#since",
  until: "#until",
  mermaid: "#export-mermaid",
  svg: "#export-svg",
  details: "#details",
  detailsTitle: ".details-title",
  detailsList: ".details-list",
  detailsObservation: ".details-observation",
  help: "#help",
  helpToggle: "#help-toggle",
};

const $ = (selector) => document.querySelector(selector);
let state = emptyState();
let diagram = emptyDiagram();
let following = true;
let unseen = 0;
let selectedRow = -1;
const rows = new Map();

const view = createSequenceView({
  scroller: $(SELECTORS.scroller),
  header: $(SELECTORS.header),
  onSelect: (id) => select(diagram.rows.findIndex((row) => row.message.id === id)),
});

// The event table ---------------------------------------------------------------------------------

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function eventRow(observation) {
  const tr = document.createElement("tr");
  tr.dataset.id = observation.id;
  tr.dataset.kind = observation.kind;
  tr.dataset.timeNs = observation.time_ns;
  tr.dataset.party = party(observation);
  if (observation.attributes.exitCode && observation.attributes.exitCode !== "0") tr.dataset.failed = "true";
  tr.title = `${observation.host}\n${JSON.stringify(observation.attributes, null, 1)}`;
  const what = cell(observation.subject, "subject");
  const more = document.createElement("small");
  more.className = "event-details";
  more.textContent = details(observation);
  what.append(more);
  tr.append(cell(clockTime(observation.time_ns), "time"), cell(observation.kind, "kind"), what);
  return tr;
}

function insertInOrder(body, tr) {
  const time = BigInt(tr.dataset.timeNs);
  for (const other of body.children) {
    const otherTime = BigInt(other.dataset.timeNs);
    if (otherTime < time || (otherTime === time && Number(other.dataset.id) < Number(tr.dataset.id))) {
      body.insertBefore(tr, other);
      return;
    }
  }
  body.append(tr);
}

function drawAllEvents() {
  rows.clear();
  $(SELECTORS.body).replaceChildren(...newestFirst(state.observations.values()).map((observation) => {
    const tr = eventRow(observation);
    rows.set(observation.id, tr);
    return tr;
  }));
}

function drawAddedEvents(added) {
  const body = $(SELECTORS.body);
  for (const observation of added) {
    const tr = eventRow(observation);
    rows.set(observation.id, tr);
    insertInOrder(body, tr);
  }
  for (const [id, tr] of rows) {
    if (!state.observations.has(id)) {
      tr.remove();
      rows.delete(id);
    }
  }
}

function drawStatus() {
  $(SELECTORS.empty).hidden = hasEvents(state);
  $(SELECTORS.sequenceEmpty).hidden = diagram.rows.length > 0;
  const box = $(SELECTORS.status);
  const down = unreachableWatchers(state);
  if (state.watchers.size === 0) {
    box.hidden = false;
    box.dataset.state = "unknown";
    box.querySelector(SELECTORS.statusTitle).textContent = "No watcher has reported yet";
    box.querySelector(SELECTORS.statusMessage).textContent =
      "Nothing is streaming a Docker daemon's events into archviz.";
    box.querySelector(SELECTORS.statusHint).textContent =
      "Start the dashboard with `python manage.py serve` (it watches DOCKER_HOST), or run `python manage.py watch`.";
    return;
  }
  box.hidden = down.length === 0;
  if (down.length === 0) return;
  const watcher = down[0];
  box.dataset.state = "unreachable";
  box.querySelector(SELECTORS.statusTitle).textContent = `No Docker daemon at ${watcher.attributes.address}`;
  box.querySelector(SELECTORS.statusMessage).textContent = `${watcher.attributes.message}. Retrying…`;
  box.querySelector(SELECTORS.statusHint).textContent = watcher.attributes.hint;
}

// Following, selecting, details -------------------------------------------------------------------

function setFollowing(on) {
  following = on;
  const button = $(SELECTORS.follow);
  button.setAttribute("aria-pressed", String(on));
  button.textContent = on ? "following" : "paused";
  if (on) {
    unseen = 0;
    view.scrollToBottom();
  }
  drawJump();
}

function drawJump() {
  const jump = $(SELECTORS.jump);
  jump.hidden = following || unseen === 0;
  jump.textContent = `${unseen} new — jump to latest`;
}

function participantLabel(id) {
  const participant = diagram.participants.find((p) => p.id === id);
  return participant ? participant.label : id;
}

function select(index) {
  selectedRow = index;
  const row = diagram.rows[index];
  const panel = $(SELECTORS.details);
  if (!row) {
    view.select(null);
    panel.hidden = true;
    return;
  }
  const { message } = row;
  view.select(message.id);
  view.scrollToRow(index);
  setFollowing(false);
  panel.hidden = false;
  panel.querySelector(SELECTORS.detailsTitle).textContent = message.label;
  const list = panel.querySelector(SELECTORS.detailsList);
  const interaction = diagram.interactions.get(message.interaction);
  const facts = [
    ["from", participantLabel(message.sender)],
    ["to", participantLabel(message.receiver)],
    ["kind", message.kind],
    ["time", clockTime(message.time_ns)],
    ["command", interaction ? interaction.title : "—"],
    ["seen", message.inferred ? "inferred: read off a daemon event no tapped request explains" : "caused by a request archviz saw"],
    ...(message.detail ? [["on the wire", message.detail]] : []),
  ];
  list.replaceChildren(...facts.flatMap(([term, value]) => {
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = term;
    dd.textContent = value;
    return [dt, dd];
  }));
  showObservation(message.observation);
}

async function showObservation(id) {
  const target = $(SELECTORS.details).querySelector(SELECTORS.detailsObservation);
  let observation = state.observations.get(id);
  if (!observation) {
    const response = await fetch(`/api/observations/${id}`);
    observation = response.ok ? await response.json() : { id, note: "no longer in the store" };
  }
  target.textContent = JSON.stringify(observation, null, 2);
}

// Filters and exports -------------------------------------------------------------------------------

function nanoseconds(input) {
  return input.value ? BigInt(new Date(input.value).getTime()) * 1000000n : null;
}

function applyFilters() {
  const hiddenRoles = new Set([...document.querySelectorAll(SELECTORS.roles)].filter((box) => !box.checked).map((box) => box.value));
  setFilter(diagram, { hiddenRoles, since: nanoseconds($(SELECTORS.since)), until: nanoseconds($(SELECTORS.until)) });
  view.reset(diagram);
  drawStatus();
  const query = new URLSearchParams();
  for (const key of ["since", "until"]) {
    const input = $(SELECTORS[key]);
    if (input.value) query.set(key, String(new Date(input.value).getTime() / 1000));
  }
  const link = $(SELECTORS.mermaid);
  link.href = `${link.pathname}${query.size ? `?${query}` : ""}`;
}

async function downloadSvg() {
  const css = await (await fetch(document.querySelector("link[rel=stylesheet]").href)).text();
  const blob = new Blob([standaloneSvg(diagram, css)], { type: "image/svg+xml" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = "archviz-sequence.svg";
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

for (const input of document.querySelectorAll(`${SELECTORS.roles}, ${SELECTORS.since}, ${SELECTORS.until}`)) {
  input.addEventListener("change", applyFilters);
}
$(SELECTORS.svg).addEventListener("click", downloadSvg);
$(SELECTORS.follow).addEventListener("click", () => setFollowing(!following));
$(SELECTORS.jump).addEventListener("click", () => setFollowing(true));
$(SELECTORS.helpToggle).addEventListener("click", () => $(SELECTORS.help).showModal());
$(SELECTORS.scroller).addEventListener("scroll", () => {
  if (view.atBottom() && !following) setFollowing(true);
}, { passive: true });
$(SELECTORS.scroller).addEventListener("wheel", (event) => {
  if (event.deltaY < 0 && following) setFollowing(false);
}, { passive: true });

// With nothing selected, stepping back starts from the newest arrow and stepping on from the oldest.
const stepOn = () => select(Math.min(selectedRow + 1, diagram.rows.length - 1));
const stepBack = () => select(selectedRow < 0 ? diagram.rows.length - 1 : Math.max(selectedRow - 1, 0));

const KEYS = {
  j: stepOn,
  ArrowDown: stepOn,
  PageDown: stepOn,
  k: stepBack,
  ArrowUp: stepBack,
  PageUp: stepBack,
  f: () => setFollowing(!following),
  End: () => setFollowing(true),
  Escape: () => select(-1),
  "?": () => $(SELECTORS.help).showModal(),
};

document.addEventListener("keydown", (event) => {
  if (event.target.matches("input, textarea, select") || event.ctrlKey || event.metaKey || event.altKey) return;
  const action = KEYS[event.key];
  if (action) {
    event.preventDefault();
    action();
  }
});

// The socket ----------------------------------------------------------------------------------------

// The page says every ACK_EVERY publications how far it has applied them (archviz/frames.py): the server closes a
// socket whose page falls too far behind, and the page reconnects to a fresh snapshot.
const ACK_EVERY = 50;
let acknowledged = 0;

const socket = openSocket("/ws/live/", {
  onFrame(frame) {
    if (frame.type === "error") {
      console.warn("archviz server:", frame.error);
      return;
    }
    const result = applyFrame(state, frame);
    if (result.resync) {
      socket.send({ type: "resync" });
      return;
    }
    if (!result.applied) return;
    state = result.state;
    if (frame.type === "snapshot") acknowledged = state.seq;
    else if (state.seq - acknowledged >= ACK_EVERY) {
      acknowledged = state.seq;
      socket.send({ type: "ack", seq: state.seq });
    }
    if (frame.type === "snapshot") {
      diagram = emptyDiagram(diagram.filter);
      applySequence(diagram, frame.sequence);
      selectedRow = -1;
      view.reset(diagram);
      drawAllEvents();
      if (following) view.scrollToBottom();
    } else if (frame.type === "observations") {
      const before = diagram.rows.length;
      view.appended(applySequence(diagram, frame.sequence));
      if (following) view.scrollToBottom();
      else unseen += diagram.rows.length - before;
      drawJump();
      drawAddedEvents(result.added);
    }
    drawStatus();
  },
});
