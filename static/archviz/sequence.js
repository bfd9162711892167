// Draws a diagram (diagram.js) as SVG. Only the rows on screen are in the DOM; appending adds the new
// rows' nodes and nothing else. All data goes in through textContent, never markup.

import {
  columnX, labelLines, labelRoom, messageHeight, noteBox, orderedParticipants, rowColumns, spanColumns, visibleRows, width,
} from "./diagram.js";
import { SVG, node } from "./svg.js";

const OVERSCAN = 600;
// The drawing grows in steps, so that most appends change no size and cause no layout.
const GROWTH = 1024;

// A text of one or more lines whose last line sits on `baseline`, the others above it. `room` is the band
// [left, right] its geometry fitted it into (kept on the node, so that tests can check it stays there).
function textNode(geometry, lines, { x, baseline, anchor = "start", room = null, className }) {
  const attributes = { x, y: baseline };
  if (className) attributes.class = className;
  if (anchor !== "start") attributes["text-anchor"] = anchor;
  if (room) attributes["data-room"] = `${room.left} ${room.right}`;
  if (lines.length === 1) return node("text", attributes, lines[0]);
  const text = node("text", attributes);
  lines.forEach((line, index) => {
    text.append(node("tspan", { x, y: baseline - (lines.length - 1 - index) * geometry.line }, line));
  });
  return text;
}

function roleOf(diagram, id) {
  const participant = diagram.participants.find((p) => p.id === id);
  return participant ? participant.role : id.split(":")[0];
}

// One Message as an SVG group: an arrow, a self-loop or a note, with its label.
export function messageNode(diagram, row, selected = false) {
  const g = diagram.geometry;
  const { message, y } = row;
  const [from, to] = rowColumns(diagram, row);
  const group = node("g", {
    class: `message ${message.kind}${message.inferred ? " inferred" : ""}${selected ? " selected" : ""}`,
    "data-id": message.id,
    "data-role": roleOf(diagram, message.sender),
  });
  const x1 = columnX(from, g);
  const x2 = columnX(to, g);
  const room = labelRoom(diagram, message);
  const lines = labelLines(diagram, message);
  const height = messageHeight(diagram, message);
  const left = Math.min(x1, x2, room.anchor === "end" ? room.left : x1) - 8;
  const right = Math.max(x1, x2) + 8 + (x1 === x2 ? 60 : 0);
  const title = node("title", {}, `${message.label}${message.inferred ? " (inferred)" : ""}${message.detail ? ` · ${message.detail}` : ""}`);
  group.append(title, node("rect", { class: "hit", x: left, y: y - (height - g.below), width: right - left, height }));
  if (message.kind === "note") {
    const [boxLeft, boxRight] = noteBox(diagram, x1);
    const top = y - g.noteHeight * 0.64;
    group.append(
      node("rect", { class: "note-box", x: boxLeft, y: top, width: boxRight - boxLeft, height: g.noteHeight, rx: 3 }),
      textNode(g, lines, { x: room.x, baseline: top + g.noteHeight / 2 + g.font * 0.35, anchor: "middle", room, className: "label note-label" }),
    );
    return group;
  }
  if (from === to) {
    group.append(
      node("path", { class: "arrow", d: `M${x1 + 5},${y - 8} h34 v14 h-30`, "marker-end": "url(#arrowhead)" }),
      textNode(g, lines, { x: room.x, baseline: y + 2, anchor: room.anchor, room, className: "label" }),
    );
    return group;
  }
  const direction = x2 > x1 ? 1 : -1;
  group.append(
    node("line", {
      class: "arrow", x1: x1 + 5 * direction, y1: y, x2: x2 - 7 * direction, y2: y,
      "marker-end": message.kind === "reply" ? "url(#arrowhead-open)" : "url(#arrowhead)",
    }),
    textNode(g, lines, { x: room.x, baseline: y - g.gap, anchor: "middle", room, className: "label" }),
  );
  return group;
}

function defs() {
  const element = node("defs");
  const marker = (id, className) => {
    const m = node("marker", { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, orient: "auto-start-reverse" });
    m.append(node("path", { d: "M0,0 L10,5 L0,10 z", class: className }));
    return m;
  };
  element.append(marker("arrowhead", "head"), marker("arrowhead-open", "head open"));
  return element;
}

// Boxes, alt frames and activation bars of the interactions that meet rows [first, end).
function frames(diagram, first, end) {
  const group = node("g", { class: "frames" });
  const seen = new Set();
  for (let index = first; index < end; index += 1) {
    const { message } = diagram.rows[index];
    if (message.interaction !== null && !seen.has(message.interaction)) {
      seen.add(message.interaction);
      group.append(interactionNode(diagram, message.interaction));
    }
    if (message.block !== null && !seen.has(message.block)) {
      seen.add(message.block);
      const alt = altNode(diagram, message);
      if (alt) group.append(alt);
    }
  }
  return group;
}

function interactionNode(diagram, id) {
  const g = diagram.geometry;
  const span = diagram.spans.get(id);
  const interaction = diagram.interactions.get(id) || { title: "", blocks: {} };
  const [left, rightmost] = spanColumns(diagram, span);
  const x = columnX(left, g) - g.column / 2 + 12;
  const right = columnX(rightmost, g) + g.column / 2 - 12;
  const room = { left: x + 10, right: right - 10 };
  const group = node("g", { class: "interaction", "data-id": id });
  group.append(
    node("title", {}, interaction.title),
    node("rect", { class: "box", x, y: span.top + 3, width: right - x, height: span.bottom - span.top - 6, rx: 6 }),
    textNode(g, g.fit(interaction.title, room.right - room.left, "title", 1), { x: x + 10, baseline: span.top + g.titleBaseline, room, className: "box-title" }),
  );
  for (const [participant, [start, stop]] of span.lanes) {
    group.append(node("rect", { class: "activation", x: columnX(diagram.columns.get(participant), g) - 5, y: start - 10, width: 10, height: stop - start + 20, rx: 2 }));
  }
  return group;
}

function altNode(diagram, message) {
  const g = diagram.geometry;
  const interaction = diagram.interactions.get(message.interaction);
  const label = interaction && interaction.blocks[message.block];
  if (!label) return null;
  const span = diagram.blockSpans.get(message.block);
  const [left, rightmost] = spanColumns(diagram, span);
  const x = columnX(left, g) - g.column / 2 + 24;
  const right = columnX(rightmost, g) + g.column / 2 - 24;
  const [tabWidth, tabHeight] = g.tab;
  const room = { left: x + tabWidth + 8, right: right - 6 };
  const group = node("g", { class: "alt", "data-block": message.block });
  group.append(
    node("rect", { class: "alt-box", x, y: span.top + 2, width: right - x, height: span.bottom - span.top - 4 }),
    node("path", { class: "alt-tab", d: `M${x},${span.top + 2} h${tabWidth} v${tabHeight - 6} l-6,6 h-${tabWidth - 6} z` }),
    node("text", { class: "alt-keyword", x: x + 6, y: span.top + g.altBaseline }, "alt"),
    textNode(g, g.fit(`[${label}]`, room.right - room.left, "label", 1), { x: room.left, baseline: span.top + g.altBaseline, room, className: "alt-label" }),
  );
  return group;
}

function lifelines(diagram, height) {
  const group = node("g", { class: "lifelines" });
  for (const participant of orderedParticipants(diagram)) {
    const x = columnX(diagram.columns.get(participant.id), diagram.geometry);
    group.append(node("line", { class: `lifeline role-${participant.role}`, x1: x, y1: 0, x2: x, y2: height }));
  }
  return group;
}

export function headerNode(diagram) {
  const g = diagram.geometry;
  const svg = node("svg", { class: "sequence-header", width: width(diagram), height: g.header });
  for (const participant of orderedParticipants(diagram)) {
    const x = columnX(diagram.columns.get(participant.id), g);
    const [boxInset, textInset] = g.headerInset;
    const box = { left: x - g.column / 2 + boxInset, right: x + g.column / 2 - boxInset };
    const room = { left: box.left + textInset, right: box.right - textInset };
    const lines = g.fit(participant.label, room.right - room.left, "header", g.maxLines);
    const group = node("g", { class: `participant role-${participant.role}`, "data-id": participant.id });
    group.append(
      node("title", {}, participant.label),
      node("rect", { x: box.left, y: 6, width: box.right - box.left, height: g.header - 12, rx: 5 }),
      textNode(g, lines, { x, baseline: g.header / 2 + g.font * 0.35 + (lines.length - 1) * g.line / 2, anchor: "middle", room }),
    );
    svg.append(group);
  }
  return svg;
}

// The rows [first, end) as SVG: markers, lifelines `height` tall, boxes and alt frames, then the arrows
// (the one whose id is `selected` marked so).
export function rowNodes(diagram, first, end, height, selected = null) {
  const messages = node("g", { class: "messages" });
  for (let index = first; index < end; index += 1) {
    const row = diagram.rows[index];
    messages.append(messageNode(diagram, row, row.message.id === selected));
  }
  return [defs(), lifelines(diagram, height), frames(diagram, first, end), messages];
}

// Every row of `diagram` drawn into `svg` (as rowNodes draws them) where the last call drew an overlapping
// window of the same Messages with the same geometry: `kept` is what that call returned (null the first time,
// or after the geometry changed). An arrow still in the window is moved into place and marked current or not,
// and only the arrows new to the window are drawn: laying an arrow's text out again is most of what a frame of
// a moving window costs. Returns what to pass to the next call.
export function redrawRows(svg, diagram, height, selected, kept) {
  if (!kept) {
    kept = { lifelines: node("g"), frames: node("g"), messages: node("g", { class: "messages" }), arrows: new Map() };
    svg.replaceChildren(defs(), kept.lifelines, kept.frames, kept.messages);
  }
  const lines = lifelines(diagram, height);
  const boxes = frames(diagram, 0, diagram.rows.length);
  kept.lifelines.replaceWith(lines);
  kept.frames.replaceWith(boxes);
  const arrows = new Map();
  for (const row of diagram.rows) {
    const { id } = row.message;
    const before = kept.arrows.get(id);
    if (before) {
      const shift = row.y - before.y;
      if (shift !== before.shift) before.element.setAttribute("transform", `translate(0 ${shift})`);
      before.element.classList.toggle("selected", id === selected);
      before.shift = shift;
      arrows.set(id, before);
    } else {
      arrows.set(id, { element: messageNode(diagram, row, id === selected), y: row.y, shift: 0 });
    }
  }
  for (const [id, { element }] of kept.arrows) if (!arrows.has(id)) element.remove();
  let next = kept.messages.firstChild;
  for (const { element } of arrows.values()) {
    if (element === next) next = next.nextSibling;
    else kept.messages.insertBefore(element, next);
  }
  return { lifelines: lines, frames: boxes, messages: kept.messages, arrows };
}

// A complete, standalone SVG of every row (for download): nothing virtual, styles inline.
export function standaloneSvg(diagram, css) {
  const height = diagram.height + 60;
  const svg = node("svg", { xmlns: SVG, width: width(diagram), height: height + 50, viewBox: `0 0 ${width(diagram)} ${height + 50}` });
  const [markers, ...drawing] = rowNodes(diagram, 0, diagram.rows.length, diagram.height + 10);
  svg.append(node("style", {}, css), markers, headerNode(diagram));
  const body = node("g", { transform: "translate(0, 50)" });
  body.append(...drawing);
  svg.append(body);
  return new XMLSerializer().serializeToString(svg);
}

// The live, virtual view: `scroller` is the element that scrolls, `header` holds the participants.
export function createSequenceView({ scroller, header, onSelect }) {
  const svg = node("svg", { class: "sequence" });
  const layers = { lifelines: node("g"), frames: node("g"), messages: node("g", { class: "messages" }) };
  svg.append(defs(), layers.lifelines, layers.frames, layers.messages);
  scroller.replaceChildren(svg);
  let diagram = null;
  let drawn = new Map();
  let range = [0, 0];
  let selected = null;
  let scheduled = false;
  let stickToBottom = false;
  let svgHeight = 0;
  // Read once and on resize: reading it per frame would make the browser lay the page out again each time.
  let viewportHeight = scroller.clientHeight;
  new ResizeObserver(() => {
    viewportHeight = scroller.clientHeight;
  }).observe(scroller);

  function drawingHeight() {
    return Math.max(Math.ceil((diagram.height + diagram.geometry.row) / GROWTH) * GROWTH, viewportHeight);
  }

  function sizeAndColumns() {
    svgHeight = drawingHeight();
    svg.setAttribute("width", width(diagram));
    svg.setAttribute("height", svgHeight);
    header.replaceChildren(headerNode(diagram));
    layers.lifelines.replaceChildren(lifelines(diagram, svgHeight));
  }

  function drawWindow() {
    scheduled = false;
    if (!diagram) return;
    let top;
    if (stickToBottom) {
      stickToBottom = false;
      top = Math.max(0, diagram.height + diagram.geometry.row - viewportHeight);
      scroller.scrollTop = top;
    } else {
      top = scroller.scrollTop;
    }
    const [first, end] = visibleRows(diagram, top - OVERSCAN, top + viewportHeight + OVERSCAN);
    for (const [index, element] of drawn) {
      if (index < first || index >= end) {
        element.remove();
        drawn.delete(index);
      }
    }
    for (let index = first; index < end; index += 1) {
      if (!drawn.has(index)) {
        const element = messageNode(diagram, diagram.rows[index], diagram.rows[index].message.id === selected);
        drawn.set(index, element);
        layers.messages.append(element);
      }
    }
    range = [first, end];
    layers.frames.replaceChildren(frames(diagram, first, end));
  }

  function schedule() {
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(drawWindow);
    }
  }

  scroller.addEventListener("scroll", schedule, { passive: true });
  svg.addEventListener("click", (event) => {
    const group = event.target.closest("g.message");
    if (group) onSelect(group.dataset.id);
  });

  return {
    reset(next) {
      diagram = next;
      drawn.forEach((element) => element.remove());
      drawn = new Map();
      sizeAndColumns();
      drawWindow();
    },
    appended(result) {
      if (result.relaid || result.columnsChanged) return this.reset(diagram);
      if (drawingHeight() !== svgHeight) {
        svgHeight = drawingHeight();
        svg.setAttribute("height", svgHeight);
        for (const line of layers.lifelines.childNodes[0].childNodes) line.setAttribute("y2", svgHeight);
      }
      // New rows and changed boxes are drawn with the next frame, once however many arrive before it.
      schedule();
    },
    select(id) {
      selected = id;
      for (const element of layers.messages.querySelectorAll("g.message.selected")) element.classList.remove("selected");
      const element = layers.messages.querySelector(`g.message[data-id="${CSS.escape(id || "")}"]`);
      if (element) element.classList.add("selected");
    },
    scrollToRow(index) {
      const row = diagram.rows[index];
      if (row) scroller.scrollTop = Math.max(0, row.top - viewportHeight / 2);
      schedule();
    },
    atBottom() {
      return scroller.scrollTop + viewportHeight >= diagram.height + diagram.geometry.row - 8;
    },
    scrollToBottom() {
      stickToBottom = true;
      schedule();
    },
    drawnCount: () => drawn.size,
  };
}

