// The live page: draws the state that state.js keeps. It decides nothing about the data.

import { applyFrame, emptyState, hasEvents, newestFirst, unreachableWatchers } from "./state.js";
import { clockTime, details, party } from "./events.js";
import { openSocket } from "./socket.js";

const SELECTORS = {
  body: "#events tbody",
  empty: "#empty",
  link: "#link-state",
  status: "#daemon-status",
  statusTitle: ".daemon-status-title",
  statusMessage: ".daemon-status-message",
  statusHint: ".daemon-status-hint",
};

const $ = (selector) => document.querySelector(selector);
let state = emptyState();
const rows = new Map();

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function row(observation) {
  const tr = document.createElement("tr");
  tr.dataset.id = observation.id;
  tr.dataset.kind = observation.kind;
  tr.dataset.timeNs = observation.time_ns;
  tr.dataset.party = party(observation);
  if (observation.attributes.exitCode && observation.attributes.exitCode !== "0") tr.dataset.failed = "true";
  tr.title = JSON.stringify(observation.attributes, null, 1);
  const kind = cell(observation.kind, "kind");
  tr.append(cell(clockTime(observation.time_ns), "time"), kind, cell(observation.subject, "subject"),
    cell(details(observation), "details"), cell(observation.host, "host"));
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

function drawAll() {
  const body = $(SELECTORS.body);
  rows.clear();
  body.replaceChildren(...newestFirst(state.observations.values()).map((observation) => {
    const tr = row(observation);
    rows.set(observation.id, tr);
    return tr;
  }));
}

function drawAdded(added) {
  const body = $(SELECTORS.body);
  for (const observation of added) {
    const tr = row(observation);
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

const socket = openSocket("/ws/live/", {
  onState(linkState) {
    const link = $(SELECTORS.link);
    link.dataset.state = linkState;
    link.textContent = linkState === "live" ? "● live" : `${linkState}…`;
  },
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
    state = result.state;
    if (frame.type === "snapshot") drawAll();
    else drawAdded(result.added);
    drawStatus();
  },
});
