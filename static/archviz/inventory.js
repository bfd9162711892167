// The inventory page: tables that update in place. State logic lives in inventory-state.js.

import { applyInventoryFrame, emptyInventory, imageName, sharedLayers, visibleRows } from "./inventory-state.js";
import { openSocket } from "./socket.js";
import { humanSize } from "./format.js";

const SELECTORS = {
host: "#host", summary: "#summary", noHost: "#no-host",
  table: (kind) => `.inventory-table[data-kind="${kind}"]`, detail: "#image-detail",
};
const $ = (selector) => document.querySelector(selector);
let state = emptyInventory();
const views = new Map();  // kind -> {text, column, descending}

function ago(seconds) {
  if (seconds === null || seconds === undefined || seconds === "") return { text: "", sort: 0 };
  const value = typeof seconds === "number" ? seconds : Date.parse(seconds) / 1000;
  const delta = Math.max(0, Date.now() / 1000 - value);
  const text = delta < 60 ? `${Math.round(delta)} s ago` : delta < 3600 ? `${Math.round(delta / 60)} min ago`
    : delta < 86400 ? `${Math.round(delta / 3600)} h ago` : `${Math.round(delta / 86400)} days ago`;
  return { text, sort: value };
}

const short = (id) => id.replace("sha256:", "").slice(0, 12);

function columns(host) {
  const containerName = (id) => (host.containers.get(id) || { name: short(id) }).name;
  return {
    container: [
      ["name", (c) => ({ text: c.name })],
      ["image", (c) => ({ text: c.image })],
      ["state", (c) => ({ text: c.exit_code !== null ? `${c.state} (${c.exit_code})` : c.state, failed: c.exit_code ? true : undefined })],
      ["created", (c) => ago(c.created)],
      ["started", (c) => ago(c.started)],
      ["networks", (c) => ({ text: c.networks.join(", ") })],
      ["volumes", (c) => ({ text: c.volumes.join(", ") })],
    ],
    image: [
      ["image", (i) => ({ text: imageName(i) + (i.tags.length > 1 ? ` +${i.tags.length - 1} more` : ""),
                          title: [...i.tags, ...i.digests].join("\n"), badge: i.stand_in })],
      ["id", (i) => ({ text: short(i.id) })],
      ["size", (i) => ({ text: humanSize(i.size), sort: i.size })],
      ["layers", (i) => (i.layers ? { text: String(i.layers.length), sort: i.layers.length, link: true }
        : { text: "loading…", sort: -1 })],
      ["created", (i) => ago(i.created)],
      ["used by", (i) => ({ text: i.containers.map(containerName).join(", ") || "—", sort: i.containers.length })],
    ],
    layer: [
      ["layer", (l) => ({ text: short(l.id), title: `${l.id}\n${l.createdBy}` })],
      ["size", (l) => ({ text: humanSize(l.size), sort: l.size || 0 })],
      ["shared by", (l) => ({ text: l.images.map(imageName).join(", "), sort: l.images.length })],
      ["saved", (l) => ({ text: humanSize(l.saved), sort: l.saved })],
    ],
    network: [
      ["name", (n) => ({ text: n.name })],
      ["driver", (n) => ({ text: n.driver })],
      ["scope", (n) => ({ text: n.scope })],
      ["containers", (n) => ({ text: n.containers.map(containerName).join(", ") || "—", sort: n.containers.length })],
    ],
    volume: [
      ["name", (v) => ({ text: v.name })],
      ["driver", (v) => ({ text: v.driver })],
      ["used by", (v) => ({ text: v.containers.map(containerName).join(", ") || "—", sort: v.containers.length })],
    ],
  };
}

function itemsOf(host, kind) {
  if (kind === "layer") return sharedLayers([...host.images.values()]);
  return [...host[`${kind}s`].values()];
}

function drawTable(host, kind, flashing = new Set()) {
  const section = $(SELECTORS.table(kind));
  const definition = columns(host)[kind];
  const view = views.get(kind) || { text: "", column: null, descending: false };
  const head = section.querySelector("thead");
  if (!head.children.length) {
    const tr = document.createElement("tr");
    definition.forEach(([title], index) => {
      const th = document.createElement("th");
      th.textContent = title;
      th.tabIndex = 0;
      th.addEventListener("click", () => {
        const current = views.get(kind) || { text: "", column: null, descending: false };
        views.set(kind, { ...current, column: index, descending: current.column === index ? !current.descending : false });
        drawAll();
      });
      tr.append(th);
    });
    head.append(tr);
  }
  for (const [index, th] of [...head.querySelectorAll("th")].entries()) {
    th.dataset.sorted = view.column === index ? (view.descending ? "down" : "up") : "";
  }
  const rows = itemsOf(host, kind).map((item) => ({ item, cells: definition.map(([, cell]) => cell(item)) }));
  const shown = visibleRows(rows, view);
  section.querySelector(".count").textContent = `${shown.length}${shown.length !== rows.length ? ` of ${rows.length}` : ""}`;
  section.querySelector(".table-empty").hidden = rows.length > 0;
  section.querySelector("table").hidden = rows.length === 0;
  section.querySelector("tbody").replaceChildren(...shown.map(({ item, cells }) => {
    const tr = document.createElement("tr");
    tr.dataset.id = item.id;
    if (flashing.has(item.id)) tr.classList.add("flash");
    for (const cell of cells) {
      const td = document.createElement("td");
      if (cell.link) {
        const button = document.createElement("button");
        button.className = "link";
        button.textContent = cell.text;
        button.addEventListener("click", () => showImage(host, item));
        td.append(button);
      } else td.textContent = cell.text;
      if (cell.badge) td.append(" ", standInBadge(cell.badge));
      if (cell.title) td.title = cell.title;
      if (cell.failed) td.dataset.failed = "true";
      tr.append(td);
    }
    return tr;
  }));
}

// An image the lab built to stand in for a Docker Hub one (or built on one) says so, never passing for the real one.
function standInBadge(standIn) {
  const badge = document.createElement("span");
  badge.className = "badge stand-in";
  badge.textContent = standIn.badge;
  badge.title = standIn.sentence;
  return badge;
}

function showImage(host, image) {
  const dialog = $(SELECTORS.detail);
  dialog.querySelector(".detail-title").textContent = imageName(image);
  if (image.stand_in) dialog.querySelector(".detail-title").append(" ", standInBadge(image.stand_in));
  const standIn = dialog.querySelector(".detail-stand-in");
  standIn.hidden = !image.stand_in;
  standIn.textContent = image.stand_in ? image.stand_in.sentence : "";
  dialog.querySelector(".detail-facts").textContent =
    `${image.id} · ${humanSize(image.size)} · ${image.layers.length} layers · ${image.tags.join(", ") || "untagged"}`;
  const others = [...host.images.values()].filter((other) => other.id !== image.id);
  dialog.querySelector("tbody").replaceChildren(...image.layers.map((layer, index) => {
    const tr = document.createElement("tr");
    const also = others.filter((other) => (other.layers || []).some((l) => l.id === layer.id)).map(imageName).join(", ");
    for (const text of [String(index + 1), short(layer.id), humanSize(layer.size), layer.created_by, also || "—"]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  }));
  dialog.showModal();
}

function currentHost() {
  const select = $(SELECTORS.host);
  const names = [...state.hosts.keys()].sort();
  if ([...select.options].map((o) => o.value).join("\n") !== names.join("\n")) {
    const chosen = select.value;
    select.replaceChildren(...names.map((name) => new Option(name, name)));
    if (names.includes(chosen)) select.value = chosen;
  }
  return state.hosts.get(select.value);
}

function drawAll(flashing = new Set()) {
  const host = currentHost();
  $(SELECTORS.noHost).hidden = Boolean(host);
  document.querySelector(".inventory-grid").hidden = !host;
  if (!host) return;
  const images = [...host.images.values()];
  const shared = sharedLayers(images);
  const running = [...host.containers.values()].filter((c) => c.state === "running").length;
  $(SELECTORS.summary).textContent = `${host.containers.size} containers (${running} running) · ${images.length} images, `
    + `${humanSize(images.reduce((sum, i) => sum + (i.size || 0), 0))} · shared layers save ${humanSize(shared.reduce((s, l) => s + l.saved, 0))}`;
  for (const kind of ["container", "image", "layer", "network", "volume"]) drawTable(host, kind, flashing);
}

for (const section of document.querySelectorAll(".inventory-table")) {
  section.querySelector(".filter").addEventListener("input", (event) => {
    const kind = section.dataset.kind;
    views.set(kind, { ...(views.get(kind) || { column: null, descending: false }), text: event.target.value });
    drawAll();
  });
}
$(SELECTORS.host).addEventListener("change", () => drawAll());

const socket = openSocket("/ws/inventory/", {
  onFrame(frame) {
    if (frame.type === "error") return;
    const result = applyInventoryFrame(state, frame);
    if (result.resync) {
      socket.send({ type: "resync" });
      return;
    }
    state = result.state;
    if (frame.type === "pull") {
      drawPulls();
      return;
    }
    drawPulls();
    drawAll(new Set(result.changed.filter(([, , , op]) => op === "upsert").map(([, , id]) => id)));
  },
});

// Pulls started from the dashboard: every viewer sees them; staff can start and cancel them.

const STAGE_TEXT = (layer) => (["Downloading", "Extracting"].includes(layer.stage) && layer.total
  ? `${layer.stage} ${humanSize(layer.current)} of ${humanSize(layer.total)}` : layer.stage);

function pullPanel(pull, canCancel) {
  const panel = document.createElement("article");
  panel.className = "pull";
  panel.dataset.id = pull.id;
  panel.dataset.status = pull.status;
  const title = document.createElement("h3");
  title.textContent = `${pull.status === "done" ? "Pulled" : pull.status === "failed" ? "Failed to pull"
    : pull.status === "cancelled" ? "Cancelled" : "Pulling"} ${pull.reference} · ${Math.round(pull.fraction * 100)}%`;
  const by = document.createElement("small");
  by.textContent = ` started by ${pull.user}`;
  title.append(by);
  const overall = document.createElement("progress");
  overall.className = "overall";
  overall.max = 1;
  overall.value = pull.fraction;
  const message = document.createElement("p");
  message.className = pull.status === "failed" ? "form-error pull-message" : "muted pull-message";
  message.textContent = pull.message;
  const layers = document.createElement("ul");
  layers.className = "pull-layers";
  for (const layer of pull.layers) {
    const item = document.createElement("li");
    item.dataset.layer = layer.id;
    item.dataset.stage = layer.stage;
    const name = document.createElement("code");
    name.textContent = layer.id;
    const bar = document.createElement("progress");
    bar.max = 1;
    bar.value = layer.fraction;
    const stage = document.createElement("span");
    stage.className = "stage";
    stage.textContent = STAGE_TEXT(layer);
    item.append(name, bar, stage);
    layers.append(item);
  }
  panel.append(title, overall, message, layers);
  if (canCancel && (pull.status === "pulling" || pull.status === "starting")) {
    const cancel = document.createElement("button");
    cancel.className = "button cancel";
    cancel.textContent = "Cancel";
    cancel.addEventListener("click", () => post(`/api/pulls/${encodeURIComponent(pull.id)}/cancel`, {}));
    panel.append(cancel);
  }
  return panel;
}

function drawPulls() {
  const box = $("#pulls");
  const pulls = [...state.pulls.values()].reverse();
  box.replaceChildren(...pulls.map((pull) => pullPanel(pull, box.dataset.canCancel === "true")));
}

async function post(url, body) {
  const token = document.querySelector("#pull-form [name=csrfmiddlewaretoken]");
  const response = await fetch(url, {
    method: "POST", body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", "X-CSRFToken": token ? token.value : "" },
  });
  return { ok: response.ok, answer: await response.json() };
}

const form = $("#pull-form");
if (form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("#pull-error");
    error.hidden = true;
    const fields = Object.fromEntries(new FormData(form));
    const { ok, answer } = await post("/api/pulls/", { reference: fields.reference, username: fields.username || "",
      password: fields.password || "" });
    form.querySelector("[name=password]").value = "";
    if (!ok) {
      error.textContent = answer.error;
      error.hidden = false;
    }
  });
}
