// The registry audit page: UTC times, human sizes, the charts (audit-charts.js) and the live tail: new events of
// the page's filter appear at the top as registries send them (audit-tail-state.js), with a pause button.

import { humanSize } from "./format.js";
import { drawCharts, resizeCharts } from "./audit-charts.js";
import { auditRow, utcTime } from "./audit-rows.js";
import {
  applyTailFrame, emptyTail, olderQuery, pauseTail, resumeTail, waiting,
} from "./audit-tail-state.js";
import { openSocket } from "./socket.js";

const SELECTORS = {
  charts: ".audit-charts", tail: ".audit-tail", toggle: ".tail-toggle", said: ".tail-state",
  table: "table.audit-table", older: "nav.pages a[rel=next]", empty: ".audit .empty",
};
const $ = (selector) => document.querySelector(selector);
// Charts are counted again at most once a second while events arrive, and after waiting five times as long as the
// last count took (a count that took the server 2 s waits 10 s): a large audit trail must not keep it busy.
const CHART_EVERY_MS = 1000;
const CHART_WAIT_FACTOR = 5;
const SAID = {
  live: "New events appear at the top as registries send them.",
  paused: (count) => (count ? `Paused: ${count} new event${count === 1 ? "" : "s"} wait — resume to show them.`
    : "Paused: new events wait here until you resume."),
};

for (const cell of document.querySelectorAll("td.time[data-time-ns]")) cell.textContent = utcTime(cell.dataset.timeNs);
for (const cell of document.querySelectorAll("td.size[data-bytes]")) cell.textContent = humanSize(cell.dataset.bytes);

const charts = $(SELECTORS.charts);
let chartTimer = null;
let chartAgain = false; // events arrived while the charts were being counted
let chartWait = CHART_EVERY_MS;

async function loadCharts() {
  const started = performance.now();
  const response = await fetch(charts.dataset.chartUrl);
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
  drawCharts(charts, await response.json());
  chartWait = Math.max(CHART_EVERY_MS, (performance.now() - started) * CHART_WAIT_FACTOR);
}

const chartFailed = (error) => { charts.dataset.error = String(error); };

function chartsSoon() {
  if (!charts) return;
  if (chartTimer !== null) {
    chartAgain = true;
    return;
  }
  chartTimer = setTimeout(() => {
    chartAgain = false;
    loadCharts().catch(chartFailed).finally(() => {
      chartTimer = null;
      if (chartAgain) chartsSoon();
    });
  }, chartWait);
}

if (charts) {
  loadCharts().catch(chartFailed);
  new ResizeObserver(() => resizeCharts(charts)).observe(charts);
}

// The tail ------------------------------------------------------------------------------------------------------

let tail = emptyTail();

// The table shows `tail.shown`: rows already drawn are kept (by event id), new ones drawn and marked as arrived.
function drawTable() {
  const table = $(SELECTORS.table);
  const body = table.tBodies[0];
  const drawn = new Map([...body.rows].map((row) => [row.dataset.event, row]));
  const rows = tail.shown.events.map((event) => {
    const row = drawn.get(event.event_id);
    if (row) return row;
    const fresh = auditRow(event, table.dataset.pullsReport);
    fresh.classList.add("arrived");
    return fresh;
  });
  body.replaceChildren(...rows);
  table.hidden = rows.length === 0;
  const empty = $(SELECTORS.empty);
  if (empty) empty.hidden = rows.length > 0;
  const older = $(SELECTORS.older);
  const query = olderQuery(tail, location.search);
  older.hidden = query === null;
  if (query !== null) older.href = `?${query}`;
}

function drawTail() {
  const paused = tail.paused;
  const toggle = $(SELECTORS.toggle);
  toggle.textContent = paused ? `resume${waiting(tail) ? ` (${waiting(tail)} new)` : ""}` : "pause";
  toggle.setAttribute("aria-pressed", String(paused));
  $(SELECTORS.said).textContent = paused ? SAID.paused(waiting(tail)) : SAID.live;
  $(SELECTORS.tail).dataset.state = paused ? "paused" : "live";
}

function onFrame(frame, socket) {
  const before = tail;
  const { state, resync } = applyTailFrame(tail, frame);
  if (resync) {
    socket.send({ type: "resync" });
    return;
  }
  tail = state;
  if (tail.shown !== before.shown) {
    drawTable();
    // The first snapshot only confirms the page as it was served, charts included.
    if (before.seq !== null) chartsSoon();
  }
  drawTail();
}

function follow(element) {
  const socket = openSocket(element.dataset.socket, { onFrame: (frame) => onFrame(frame, socket) });
  $(SELECTORS.toggle).addEventListener("click", () => {
    const resuming = tail.paused;
    const before = tail.shown;
    tail = resuming ? resumeTail(tail) : pauseTail(tail);
    if (resuming && tail.shown !== before) {
      drawTable();
      chartsSoon();
    }
    drawTail();
  });
}

const tailElement = $(SELECTORS.tail);
if (tailElement) follow(tailElement);
