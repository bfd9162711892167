// Drawing the present view: the window of arrows through the live page's layout and renderer
// (diagram.js, sequence.js) with a projector's geometry, and the step and tracker tables. It decides
// nothing about the lesson; present-state.js says what is current.

import { applySequence, emptyDiagram, messageHeight } from "./diagram.js";
import { fitLines } from "./fit.js";
import { windowStart } from "./present-state.js";
import { headerNode, redrawRows } from "./sequence.js";

// The smallest text on the page, in CSS pixels (present.css writes every text at least this big).
const FONT = 22;
// A label is fitted a little narrower than measured, so that a font's rounding never makes it spill.
const SAFETY = 1.04;

// Text widths as the browser draws them in the diagram's font: plain for labels, bold for titles and lanes.
export function canvasMeasure(family) {
  const measurer = (weight) => {
    const context = document.createElement("canvas").getContext("2d");
    context.font = `${weight} ${FONT}px ${family}`;
    return (text) => context.measureText(text).width * SAFETY;
  };
  return { label: measurer(400), title: measurer(700), header: measurer(700) };
}

// Fitting a text is a few measurements; a step draws the same labels again, so each fit is kept (per
// geometry, which a new width replaces), up to FITS of them.
const FITS = 20000;

function remembered(fit) {
  const known = new Map();
  return (text, room, kind, lines) => {
    const key = `${kind} ${lines} ${room} ${text}`;
    let fitted = known.get(key);
    if (!fitted) {
      if (known.size >= FITS) known.clear();
      fitted = fit(text, room, kind, lines);
      known.set(key, fitted);
    }
    return fitted;
  };
}

// The lanes share the whole width; labels take up to two lines of 22 px text.
function presentGeometry(width, lanes, measure) {
  const column = width / Math.max(lanes, 1);
  return {
    font: FONT, width, column, left: column / 2, row: 46, line: 27, below: 12, title: 40, alt: 38, maxLines: 2,
    header: 82, headerInset: [5, 4], self: 2 * column - 60, note: column * 1.4, noteHeight: 36, pad: 6, gap: 9, titleBaseline: 30,
    altBaseline: 28, tab: [64, 32],
    fit: remembered((text, room, kind, lines) => fitLines(text, room, lines, measure[kind] || measure.label)),
  };
}

// The last frame's size, lanes and geometry, whether its lanes' header is drawn, and its rows as redrawRows
// keeps them (all of which change only with the size and the lanes).
let drawn = { width: null, lanes: null, geometry: null, header: false, rows: null };

// The geometry of the last frame when its size and lanes are the same, so that its fits are kept.
function geometryFor(width, lanes, measure) {
  if (drawn.width !== width || drawn.lanes !== lanes) {
    drawn = { width, lanes, geometry: presentGeometry(width, lanes.length, measure), header: false, rows: null };
  }
  return drawn.geometry;
}

function layout(lesson, first, position, geometry, lanes) {
  const diagram = emptyDiagram(undefined, geometry, lanes);
  const messages = lesson.messages.slice(first, position + 1);
  const interactions = new Set(messages.map((message) => message.interaction).filter((id) => id !== null));
  applySequence(diagram, {
    participants: lesson.participants,
    interactions: [...interactions].map((id) => lesson.byId.get(id)).filter(Boolean),
    messages,
  });
  return diagram;
}

// Draws the arrows up to `position` that fit `height` pixels (the header included), the current one
// marked; returns the index of the first arrow drawn.
export function drawWindow({ svg, header, lesson, position, width, height, measure }) {
  const lanes = lesson.lanes;
  const geometry = geometryFor(width, lanes, measure);
  const probe = emptyDiagram(undefined, geometry, lanes);
  probe.participants = lesson.participants;
  const room = height - geometry.header - 4;
  let first = windowStart(lesson.messages, position, room, {
    height: (index) => messageHeight(probe, lesson.messages[index]),
    title: geometry.title,
    alt: geometry.alt,
  });
  let diagram = layout(lesson, first, position, geometry, lanes);
  while (diagram.height > room && first < position) {
    first += 1;
    diagram = layout(lesson, first, position, geometry, lanes);
  }
  if (!drawn.header) {
    header.replaceChildren(headerNode(diagram));
    drawn.header = true;
  }
  svg.setAttribute("width", width);
  svg.setAttribute("height", room);
  drawn.rows = redrawRows(svg, diagram, room, lesson.messages[position].id, drawn.rows);
  for (const { element } of drawn.rows.arrows.values()) {
    if (!element.hasAttribute("tabindex")) element.setAttribute("tabindex", "0");
  }
  return first;
}

function cell(tag, text, className = "") {
  const element = document.createElement(tag);
  element.textContent = text;
  if (className) element.className = className;
  return element;
}

// The current command's process table: one row per step, the current one lit and written out whole with
// its result; the others on one line each (their whole text on hover). Where the table shows the same steps
// already, only the rows whose state changed are written again; every row is shown (fitSteps hides again).
export function drawSteps(table, { rows }) {
  const body = table.querySelector("tbody");
  const same = body.rows.length === rows.length
    && rows.every((step, index) => body.rows[index].dataset.step === stepIdentity(step));
  if (!same) body.replaceChildren(...rows.map(stepRow));
  else {
    rows.forEach((step, index) => {
      const tr = body.rows[index];
      if (tr.dataset.state !== step.state) tr.replaceWith(stepRow(step));
      else tr.hidden = false;
    });
  }
  table.hidden = rows.length === 0;
}

// Everything a step's row shows but its state.
function stepIdentity(step) {
  return JSON.stringify([step.number, step.key, step.component, step.action, step.result]);
}

function stepRow(step) {
  const tr = document.createElement("tr");
  tr.dataset.step = stepIdentity(step);
  tr.dataset.state = step.state;
  const what = cell("td", "", "step-action");
  what.append(cell("strong", step.component, "step-component"), ` ${step.action}`);
  if (step.state === "current" && step.result) what.append(cell("span", `→ ${step.result}`, "step-result"));
  tr.title = `${step.number}. ${step.component}: ${step.action}${step.result ? ` → ${step.result}` : ""}`;
  tr.append(cell("td", String(step.number), "step-number"), what);
  return tr;
}

// When the steps do not all fit `box`, the ones farthest from the current step give way: the done ones
// first, then the last ones to come. The current step always stays.
export function fitSteps(table, box) {
  const rows = [...table.querySelectorAll("tbody tr")];
  const current = rows.findIndex((row) => row.dataset.state === "current");
  let top = 0;
  let bottom = rows.length - 1;
  while (box.scrollHeight > box.clientHeight) {
    if (top < current) rows[top++].hidden = true;
    else if (bottom > Math.max(current, 0)) rows[bottom--].hidden = true;
    else break;
  }
  table.dataset.cut = String(top > 0 || bottom < rows.length - 1);
}

// The lessons' status tracker: command, image, container.
export function drawTracker(table, rows) {
  table.querySelector("tbody").replaceChildren(...rows.map((row) => {
    const tr = document.createElement("tr");
    tr.dataset.what = row.what;
    tr.dataset.state = row.state;
    const value = cell("td", "", "tracker-value");
    value.title = [row.text, row.about].filter(Boolean).join(" · ");
    value.append(cell("span", row.text, "tracker-text"));
    if (row.about) value.append(cell("span", row.about, "tracker-about"));
    if (row.fraction !== null && row.fraction !== undefined) {
      const bar = cell("span", "", "tracker-bar");
      bar.style.setProperty("--done", String(row.fraction));
      value.append(bar);
    }
    tr.append(cell("th", row.what), value);
    return tr;
  }));
}
