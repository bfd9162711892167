// The architecture map page: draws the server's map state (map-state.js) as SVG where map-layout.js says, lights
// what each Message crosses, fills the images box as a pull's layers land, and explains a box when clicked.
// It decides nothing about the data. All data goes in through textContent and attributes, never markup.

import { applyMapFrame, boxesOf, emptyMap, litAt, nextChange, pullsAt, tickerLine } from "./map-state.js";
import { BOTTOM, COLUMNS, HEIGHT, TOP, WIDTH, layout } from "./map-layout.js";
import { openSocket } from "./socket.js";
import { clip, node } from "./svg.js";

const SELECTORS = {
  stage: "#map-stage",
  error: "#map-error",
  detail: "#map-detail",
  detailTitle: ".detail-title",
  detailFacts: ".detail-facts",
  detailAbout: ".detail-about",
  detailContents: ".detail-contents",
  detailEmpty: ".detail-empty",
  detailMore: ".detail-more",
  hint: (role) => `.map-hint[data-column="${role}"]`,
  edge: (id) => `[data-edge="${CSS.escape(id)}"]`,
};
const PARTS = new Set(["images", "containers", "networks", "volumes"]);
const NUMBERS = ["count", "running", "stopped", "layers", "shared_layers", "repositories", "tags", "requests"];
const LINE = 21;
const LABEL_CHARS = 30; // map-layout.js leaves room for a label this long beside each edge

const $ = (selector) => document.querySelector(selector);
const stage = $(SELECTORS.stage);
let map = emptyMap();
let drawn = null;
let selected = null;
let timer = null;
const svg = node("svg", { id: "map", class: "map", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img",
  "aria-label": "Docker's architecture, live: clients, Docker hosts and registries" });
stage.prepend(svg);

// How many characters of type `size` fit in `width` (an average glyph is about 0.56 em wide).
function fits(width, size) {
  return Math.max(4, Math.floor((width - 24) / (size * 0.56)));
}

// Boxes ---------------------------------------------------------------------------------------------------

function lines(group, texts, x, y, bottom, width, className = "box-fact") {
  let line = y;
  for (const text of texts) {
    if (line > bottom - 6) break;
    group.append(node("text", { class: className, x, y: line }, clip(text, fits(width, 17))));
    line += LINE;
  }
  return line;
}

function boxNode(box, place) {
  const { x, y, w, h } = place;
  const group = node("g", {
    class: `map-box role-${box.role}`, "data-box": box.id, "data-role": box.role, tabindex: "0", role: "button",
    "aria-label": `${box.title} ${box.label}: ${box.facts.join(", ")}. Press Enter for more.`,
  });
  for (const name of NUMBERS) if (box[name] !== undefined) group.dataset[name] = String(box[name]);
  group.append(node("title", {}, `${box.title} ${box.label}`.trim()),
    node("rect", { class: "box-frame", x, y, width: w, height: h, rx: 10 }));
  group.append(node("text", { class: "box-title", x: x + 14, y: y + 22 }, box.title));
  if (box.role === "daemon") {
    group.append(node("text", { class: "box-label", x: x + 14, y: y + 47 }, clip(box.label, 18)));
    if (!box.reachable || !box.watched) {
      group.append(node("text", { class: "box-fact warning", x: x + w / 2 - 20, y: y + 46 },
        clip(box.facts[1] || "", fits(w / 2, 17))));
    }
    return group;
  }
  if (PARTS.has(box.role)) {
    group.append(node("text", { class: "box-count", x: x + 14, y: y + 66 }, String(box.count)));
    lines(group, box.facts.slice(1), x + 14, y + 92, y + h, w);
    return group;
  }
  group.append(node("text", { class: "box-label", x: x + 14, y: y + 52 }, clip(box.label, fits(w, 22))));
  const after = lines(group, box.facts, x + 14, y + 78, y + h, w);
  if (box.role === "registry" || box.role === "client") lines(group, box.contents, x + 14, after, y + h, w, "box-content");
  return group;
}

function placeholder(role) {
  const { x, w } = COLUMNS[role];
  return node("rect", { class: "placeholder", x, y: TOP, width: w, height: BOTTOM - TOP, rx: 10 });
}

function headings(state) {
  return Object.entries(COLUMNS).map(([role, { x, w, title }]) => {
    const more = state.more[`${role}s`] || 0;
    return node("text", { class: "column-title", x: x + w / 2, y: 36, "text-anchor": "middle" },
      more ? `${title} (+${more} more)` : title);
  });
}

// Edges ---------------------------------------------------------------------------------------------------

function edgeNode(edge) {
  const group = node("g", { class: `map-edge kind-${edge.kind}`, "data-edge": edge.id, "data-kind": edge.kind,
    "data-from": edge.from, "data-to": edge.to });
  group.append(node("path", { class: "wire", d: edge.path }));
  return group;
}

function movingDot(edge, forward) {
  const dot = node("circle", { class: "dot", r: 9 });
  dot.append(node("animateMotion", { dur: "0.9s", repeatCount: "indefinite", path: edge.path,
    keyPoints: forward ? "0;1" : "1;0", keyTimes: "0;1", calcMode: "linear" }));
  return dot;
}

// A lit edge's label, as a pill sized to its text (measured once it is on the page).
function drawEdgeLabel(layer, edge, text) {
  const { x: at, y, anchor } = edge.label;
  const group = node("g", { class: `edge-label kind-${edge.kind}`, "data-label-of": edge.id });
  const rect = node("rect", { y: y - 15, height: 30, rx: 15 });
  const label = node("text", { y: y + 6, "text-anchor": "middle" }, clip(text, LABEL_CHARS));
  group.append(rect, label);
  layer.append(group);
  const width = label.getComputedTextLength() + 26;
  const x = anchor === "end" ? at - width : at;
  rect.setAttribute("x", x);
  rect.setAttribute("width", width);
  label.setAttribute("x", x + width / 2);
}

// Drawing -------------------------------------------------------------------------------------------------

function drawAll() {
  const { state } = map;
  drawn = layout(state);
  const edges = node("g", { class: "edges" });
  const boxes = node("g", { class: "boxes" });
  for (const role of ["client", "daemon", "registry"]) {
    if (drawn.empty[role]) boxes.append(placeholder(role));
    $(SELECTORS.hint(role)).hidden = !drawn.empty[role];
  }
  for (const edge of drawn.edges) edges.append(edgeNode(edge));
  for (const [id, box] of boxesOf(state)) boxes.append(boxNode(box, drawn.boxes.get(id)));
  svg.replaceChildren(...headings(state), edges, boxes, node("g", { class: "labels" }), node("g", { class: "pulls" }),
    node("g", { class: "ticker" }));
  drawLive();
  if (selected) showDetail(selected);
}

function drawLit(now) {
  const lit = litAt(map, now);
  const labels = svg.querySelector(".labels");
  labels.replaceChildren();
  for (const edge of drawn.edges) {
    const group = svg.querySelector(SELECTORS.edge(edge.id));
    const entry = lit.get(edge.id);
    group.dataset.litCount = String(map.counts.get(edge.id) || 0);
    const direction = entry ? (entry.forward ? "forward" : "back") : "";
    if (group.dataset.direction !== direction) {
      group.querySelector(".dot")?.remove();
      if (entry) group.append(movingDot(edge, entry.forward));
    }
    group.dataset.direction = direction;
    group.classList.toggle("lit", Boolean(entry));
    if (entry) {
      group.dataset.label = entry.label;
      drawEdgeLabel(labels, edge, entry.label);
    }
  }
  for (const group of svg.querySelectorAll(".map-box")) {
    group.classList.toggle("lit", lit.has(group.dataset.box));
    group.dataset.litCount = String(map.counts.get(group.dataset.box) || 0);
  }
}

// A pull in progress fills its daemon's images box: one cell per layer, filled as the layer lands.
function drawPulls(now) {
  const layer = svg.querySelector(".pulls");
  layer.replaceChildren();
  for (const daemon of map.state.daemons) {
    const images = drawn.boxes.get(daemon.parts[0].id);
    const pulls = pullsAt(map, now, daemon.host).slice(-2);
    if (!pulls.length) continue;
    const top = images.y + 78;
    const height = images.h - 84;
    const panel = node("g", { class: "map-pulls", "data-of": daemon.parts[0].id });
    panel.append(node("rect", { class: "pulls-panel", x: images.x + 4, y: top, width: images.w - 8, height }));
    const each = height / pulls.length;
    pulls.forEach((pull, index) => panel.append(pullNode(pull, images, top + index * each)));
    layer.append(panel);
  }
}

function pullNode(pull, images, top) {
  const verb = { done: "pulled", failed: "pull failed:", cancelled: "cancelled" }[pull.status] || "pulling";
  const group = node("g", { class: "map-pull", "data-pull": pull.id, "data-status": pull.status,
    "data-reference": pull.reference, "data-layers": String(pull.layers.length) });
  group.append(node("text", { class: "pull-title", x: images.x + 14, y: top + 18 },
    clip(`${verb} ${pull.reference} · ${Math.round(pull.fraction * 100)}%`, fits(images.w, 16))));
  const count = Math.max(pull.layers.length, 1);
  const cell = Math.min(44, (images.w - 28 - (count - 1) * 5) / count);
  pull.layers.forEach((layer, index) => {
    const x = images.x + 14 + index * (cell + 5);
    const item = node("g", { class: "pull-cell", "data-layer": layer.id, "data-stage": layer.stage });
    item.append(node("title", {}, `${layer.id}: ${layer.stage}`),
      node("rect", { class: "cell", x, y: top + 26, width: cell, height: 22, rx: 3 }),
      node("rect", { class: "cell-fill", x, y: top + 26, width: cell * layer.fraction, height: 22, rx: 3 }));
    group.append(item);
  });
  return group;
}

function drawTicker() {
  const ticker = svg.querySelector(".ticker");
  const entries = map.ticker;
  ticker.replaceChildren(...entries.map((entry, index) => node("text", {
    class: index === entries.length - 1 ? "ticker-line newest" : "ticker-line", x: 18, y: BOTTOM + 34 + index * 26,
  }, clip(tickerLine(entry), 96))));
}

function drawLive() {
  if (!drawn) return;
  const now = Date.now();
  drawLit(now);
  drawPulls(now);
  drawTicker();
  clearTimeout(timer);
  const next = nextChange(map, now);
  if (next !== null) timer = setTimeout(drawLive, next - now + 20);
}

// Details -------------------------------------------------------------------------------------------------

function showDetail(id) {
  selected = id;
  const dialog = $(SELECTORS.detail);
  const box = boxesOf(map.state).get(id);
  dialog.querySelector(SELECTORS.detailTitle).textContent = box ? `${box.title} ${box.label}`.trim() : "Gone";
  dialog.querySelector(SELECTORS.detailFacts).textContent = box ? box.facts.join(" · ") : "";
  dialog.querySelector(SELECTORS.detailAbout).textContent = box ? box.about : "This part is no longer on the map.";
  const contents = box ? box.contents : [];
  dialog.querySelector(SELECTORS.detailContents).replaceChildren(...contents.map((text) => {
    const item = document.createElement("li");
    item.textContent = text;
    return item;
  }));
  dialog.querySelector(SELECTORS.detailEmpty).hidden = contents.length > 0;
  const more = dialog.querySelector(SELECTORS.detailMore);
  more.hidden = !box || !box.more;
  more.textContent = box && box.more ? `and ${box.more} more` : "";
  dialog.dataset.box = id;
  if (!dialog.open) dialog.showModal();
}

$(SELECTORS.detail).addEventListener("close", () => {
  selected = null;
});
svg.addEventListener("click", (event) => {
  const box = event.target.closest("[data-box]");
  if (box) showDetail(box.dataset.box);
});
svg.addEventListener("keydown", (event) => {
  const box = event.target.closest("[data-box]");
  if (box && (event.key === "Enter" || event.key === " ")) {
    event.preventDefault();
    showDetail(box.dataset.box);
  }
});

// The socket ----------------------------------------------------------------------------------------------

const host = stage.dataset.host;
openSocket(`/ws/map/${host ? `?host=${encodeURIComponent(host)}` : ""}`, {
  onFrame(frame) {
    if (frame.type === "error") {
      const error = $(SELECTORS.error);
      error.textContent = frame.error;
      error.hidden = false;
      return;
    }
    map = applyMapFrame(map, frame, Date.now());
    if (!map.state) return;
    if (frame.type === "map") drawAll();
    else drawLive();
  },
});
