// Draws a diagram (diagram.js) as SVG. Only the rows on screen are in the DOM; appending adds the new
// rows' nodes and nothing else. All data goes in through textContent, never markup.

import { COLUMN, ROW, columnX, orderedParticipants, rowColumns, spanColumns, visibleRows, width } from "./diagram.js";

const SVG = "http://www.w3.org/2000/svg";
const OVERSCAN = 600;
// The drawing grows in steps, so that most appends change no size and cause no layout.
const GROWTH = 1024;
const LABEL_CHARS = 30;

function node(name, attributes = {}, text = null) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (text !== null) element.textContent = text;
  return element;
}

function clip(text, chars) {
  return text.length > chars ? `${text.slice(0, chars - 1)}…` : text;
}

function roleOf(diagram, id) {
  const participant = diagram.participants.find((p) => p.id === id);
  return participant ? participant.role : id.split(":")[0];
}

// One Message as an SVG group: an arrow, a self-loop or a note, with its label.
export function messageNode(diagram, row, selected = false) {
  const { message, y } = row;
  const [from, to] = rowColumns(diagram, row);
  const group = node("g", {
    class: `message ${message.kind}${message.inferred ? " inferred" : ""}${selected ? " selected" : ""}`,
    "data-id": message.id,
    "data-role": roleOf(diagram, message.sender),
  });
  const x1 = columnX(from);
  const x2 = columnX(to);
  const title = node("title", {}, `${message.label}${message.inferred ? " (inferred)" : ""}${message.detail ? ` · ${message.detail}` : ""}`);
  group.append(title, node("rect", { class: "hit", x: Math.min(x1, x2) - 8, y: y - ROW * 0.6, width: Math.abs(x2 - x1) + 16 + (x1 === x2 ? 60 : 0), height: ROW }));
  if (message.kind === "note") {
    const boxWidth = COLUMN * 1.4;
    group.append(
      node("rect", { class: "note-box", x: x1 - boxWidth / 2, y: y - 14, width: boxWidth, height: 22, rx: 3 }),
      node("text", { class: "label note-label", x: x1, y: y + 2, "text-anchor": "middle" }, clip(message.label, 46)),
    );
    return group;
  }
  if (from === to) {
    group.append(
      node("path", { class: "arrow", d: `M${x1 + 5},${y - 8} h34 v14 h-30`, "marker-end": "url(#arrowhead)" }),
      node("text", { class: "label", x: x1 + 46, y: y + 2 }, clip(message.label, LABEL_CHARS + 6)),
    );
    return group;
  }
  const direction = x2 > x1 ? 1 : -1;
  group.append(
    node("line", {
      class: "arrow", x1: x1 + 5 * direction, y1: y, x2: x2 - 7 * direction, y2: y,
      "marker-end": message.kind === "reply" ? "url(#arrowhead-open)" : "url(#arrowhead)",
    }),
    node("text", { class: "label", x: (x1 + x2) / 2, y: y - 6, "text-anchor": "middle" },
      clip(message.label, Math.max(12, Math.floor((Math.abs(x2 - x1) / COLUMN) * LABEL_CHARS)))),
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
  const span = diagram.spans.get(id);
  const interaction = diagram.interactions.get(id) || { title: "", blocks: {} };
  const [left, rightmost] = spanColumns(diagram, span);
  const x = columnX(left) - COLUMN / 2 + 12;
  const right = columnX(rightmost) + COLUMN / 2 - 12;
  const group = node("g", { class: "interaction", "data-id": id });
  group.append(
    node("rect", { class: "box", x, y: span.top + 3, width: right - x, height: span.bottom - span.top - 6, rx: 6 }),
    node("text", { class: "box-title", x: x + 10, y: span.top + 19 }, clip(interaction.title, 70)),
  );
  for (const [participant, [start, stop]] of span.lanes) {
    group.append(node("rect", { class: "activation", x: columnX(diagram.columns.get(participant)) - 5, y: start - 10, width: 10, height: stop - start + 20, rx: 2 }));
  }
  return group;
}

function altNode(diagram, message) {
  const interaction = diagram.interactions.get(message.interaction);
  const label = interaction && interaction.blocks[message.block];
  if (!label) return null;
  const span = diagram.blockSpans.get(message.block);
  const [left, rightmost] = spanColumns(diagram, span);
  const x = columnX(left) - COLUMN / 2 + 24;
  const right = columnX(rightmost) + COLUMN / 2 - 24;
  const group = node("g", { class: "alt", "data-block": message.block });
  group.append(
    node("rect", { class: "alt-box", x, y: span.top + 2, width: right - x, height: span.bottom - span.top - 4 }),
    node("path", { class: "alt-tab", d: `M${x},${span.top + 2} h44 v12 l-6,6 h-38 z` }),
    node("text", { class: "alt-keyword", x: x + 6, y: span.top + 15 }, "alt"),
    node("text", { class: "alt-label", x: x + 52, y: span.top + 15 }, `[${label}]`),
  );
  return group;
}

function lifelines(diagram, height) {
  const group = node("g", { class: "lifelines" });
  for (const participant of orderedParticipants(diagram)) {
    const x = columnX(diagram.columns.get(participant.id));
    group.append(node("line", { class: `lifeline role-${participant.role}`, x1: x, y1: 0, x2: x, y2: height }));
  }
  return group;
}

export function headerNode(diagram) {
  const svg = node("svg", { class: "sequence-header", width: width(diagram), height: 46 });
  for (const participant of orderedParticipants(diagram)) {
    const x = columnX(diagram.columns.get(participant.id));
    const group = node("g", { class: `participant role-${participant.role}`, "data-id": participant.id });
    group.append(
      node("title", {}, participant.label),
      node("rect", { x: x - COLUMN / 2 + 14, y: 6, width: COLUMN - 28, height: 34, rx: 5 }),
      node("text", { x, y: 28, "text-anchor": "middle" }, clip(participant.label, 24)),
    );
    svg.append(group);
  }
  return svg;
}

// A complete, standalone SVG of every row (for download): nothing virtual, styles inline.
export function standaloneSvg(diagram, css) {
  const height = diagram.height + 60;
  const svg = node("svg", { xmlns: SVG, width: width(diagram), height: height + 50, viewBox: `0 0 ${width(diagram)} ${height + 50}` });
  svg.append(node("style", {}, css), defs(), headerNode(diagram));
  const body = node("g", { transform: "translate(0, 50)" });
  body.append(lifelines(diagram, diagram.height + 10), frames(diagram, 0, diagram.rows.length));
  for (const row of diagram.rows) body.append(messageNode(diagram, row));
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
    return Math.max(Math.ceil((diagram.height + ROW) / GROWTH) * GROWTH, viewportHeight);
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
      top = Math.max(0, diagram.height + ROW - viewportHeight);
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
      return scroller.scrollTop + viewportHeight >= diagram.height + ROW - 8;
    },
    scrollToBottom() {
      stickToBottom = true;
      schedule();
    },
    drawnCount: () => drawn.size,
  };
}

