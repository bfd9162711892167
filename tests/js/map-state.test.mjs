import { test } from "node:test";
import assert from "node:assert/strict";

import { HOLD_MS, PULL_KEPT_MS, TICKER, applyMapFrame, boxesOf, emptyMap, litAt, nextChange, pullsAt, tickerLine }
  from "../../static/archviz/map-state.js";
import { BOTTOM, HEIGHT, TOP, WIDTH, layout } from "../../static/archviz/map-layout.js";

const HOST = "unix:///tmp/lab/docker.sock";
const part = (role, count) => ({ id: `${role}:${HOST}`, role, title: role, label: "", facts: [], about: "", contents: [], more: 0, count });
const daemon = (host = HOST) => ({
  id: `daemon:${host}`, role: "daemon", title: "Daemon (dockerd)", label: "docker.sock", host, facts: [host], about: "",
  contents: [], more: 0, reachable: true, watched: true,
  runtime: { id: `runtime:${host}`, role: "runtime", title: "Runtime", label: "containerd + runc", facts: [], about: "", contents: [], more: 0 },
  parts: ["images", "containers", "networks", "volumes"].map((role) => ({ ...part(role, 1), id: `${role}:${host}` })),
});
const client = (agent) => ({ id: `client:${agent}`, role: "client", title: "Client", label: agent, host: HOST, facts: [], about: "", contents: [], more: 0 });
const registry = (host) => ({ id: `registry:${host}`, role: "registry", title: "Registry", label: host, facts: [], about: "", contents: [], more: 0 });

function mapState({ clients = [client("cli")], daemons = [daemon()], registries = [registry("r:5000")] } = {}) {
  const edges = [];
  for (const d of daemons) {
    for (const c of clients) if (c.host === d.host) edges.push({ id: `${c.id}|${d.id}`, kind: "client-daemon", from: c.id, to: d.id });
    edges.push({ id: `${d.id}|${d.runtime.id}`, kind: "daemon-runtime", from: d.id, to: d.runtime.id });
    for (const r of registries) edges.push({ id: `${d.id}|${r.id}`, kind: "daemon-registry", from: d.id, to: r.id });
  }
  return { daemons, clients, registries, edges, more: { daemons: 0, clients: 0, registries: 0 }, host: null };
}

const lit = (edge, label, forward = true, kind = "client-daemon") => ({
  message: label, edge, box: null, kind, forward, label, sender_role: "client", receiver_role: "daemon",
});

test("a map frame replaces the state and keeps what is lit", () => {
  let map = applyMapFrame(emptyMap(), { type: "map", state: mapState() }, 0);
  map = applyMapFrame(map, { type: "map-traffic", traffic: [lit("client:cli|daemon:x", "pull a")] }, 0);
  const fresh = mapState({ clients: [] });
  map = applyMapFrame(map, { type: "map", state: fresh }, 10);
  assert.equal(map.state, fresh);
  assert.deepEqual([...litAt(map, 10).keys()], ["client:cli|daemon:x"]);
});

test("a message lights its edge for a moment, the newest label wins, and each lighting is counted", () => {
  const edge = `client:cli|daemon:${HOST}`;
  let map = applyMapFrame(emptyMap(), { type: "map-traffic", traffic: [lit(edge, "ping the daemon")] }, 1000);
  map = applyMapFrame(map, { type: "map-traffic", traffic: [lit(edge, "200 OK", false)] }, 1500);
  assert.equal(litAt(map, 1600).get(edge).label, "200 OK");
  assert.equal(litAt(map, 1600).get(edge).forward, false);
  assert.equal(nextChange(map, 1600), 1500 + HOLD_MS);
  assert.equal(litAt(map, 1500 + HOLD_MS).size, 0);
  assert.equal(nextChange(map, 1500 + HOLD_MS), null);
  assert.equal(map.counts.get(edge), 2);
});

test("a message about one participant lights its box, and the ticker keeps the newest few lines", () => {
  const traffic = Array.from({ length: TICKER + 2 }, (_, n) => ({
    message: String(n), edge: null, box: `daemon:${HOST}`, kind: "box", forward: true, label: `step ${n}`,
    sender_role: "daemon", receiver_role: "daemon",
  }));
  const map = applyMapFrame(emptyMap(), { type: "map-traffic", traffic }, 0);
  assert.ok(litAt(map, 1).has(`daemon:${HOST}`));
  assert.deepEqual(map.ticker.map(tickerLine), Array.from({ length: TICKER }, (_, n) => `Daemon: step ${n + 2}`));
  assert.equal(tickerLine(lit("e", "pull a")), "Client → Daemon: pull a");
});

test("a pull stays drawn while it runs and for a moment after it ends", () => {
  const pull = { id: "tap-1-2", host: HOST, reference: "lab/app:1", status: "pulling", fraction: 0.5,
    layers: [{ id: "a", stage: "Downloading", fraction: 0.3 }] };
  let map = applyMapFrame(emptyMap(), { type: "map-pull", pull }, 0);
  assert.deepEqual(pullsAt(map, 1e9, HOST).map((p) => p.id), ["tap-1-2"]);
  assert.deepEqual(pullsAt(map, 0, "tcp://elsewhere:2375"), []);
  map = applyMapFrame(map, { type: "map-pull", pull: { ...pull, status: "done", fraction: 1 } }, 100);
  assert.equal(pullsAt(map, 100 + PULL_KEPT_MS - 1, HOST).length, 1);
  assert.equal(pullsAt(map, 100 + PULL_KEPT_MS, HOST).length, 0);
});

test("frames of unknown or hostile types change nothing", () => {
  const map = applyMapFrame(emptyMap(), { type: "map", state: mapState() }, 0);
  for (const frame of [{ type: "error", error: "no" }, { type: "__proto__" }, {}, { type: "map-traffic", traffic: [{}] }, { type: "map-traffic" }, { type: "map-pull" }]) {
    const after = applyMapFrame(map, frame, 0);
    assert.deepEqual(after.state, map.state);
    assert.equal(litAt(after, 0).size, 0);
  }
});

test("every box of a state is found by its id, parts and runtimes included", () => {
  const ids = [...boxesOf(mapState()).keys()];
  assert.deepEqual(ids.sort(), [`client:cli`, `containers:${HOST}`, `daemon:${HOST}`, `images:${HOST}`, `networks:${HOST}`,
    `registry:r:5000`, `runtime:${HOST}`, `volumes:${HOST}`].sort());
  assert.equal(boxesOf(null).size, 0);
});

function overlaps(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

for (const [name, counts] of [["one of each", [1, 1, 1]], ["two hosts", [2, 2, 1]], ["a crowded room", [5, 3, 4]],
  ["nothing yet", [0, 0, 0]]]) {
  test(`the layout keeps every box on the drawing and apart (${name})`, () => {
    const [clients, daemons, registries] = counts;
    const state = mapState({
      clients: Array.from({ length: clients }, (_, n) => client(`c${n}`)),
      daemons: Array.from({ length: daemons }, (_, n) => daemon(n ? `tcp://h${n}:2375` : HOST)),
      registries: Array.from({ length: registries }, (_, n) => registry(`r${n}:5000`)),
    });
    const drawn = layout(state);
    assert.deepEqual(drawn.empty, { client: clients === 0, daemon: daemons === 0, registry: registries === 0 });
    const outer = [...drawn.boxes].filter(([, box]) => ["client", "daemon", "registry"].includes(box.role));
    for (const [id, box] of drawn.boxes) {
      assert.ok(box.x >= 0 && box.x + box.w <= WIDTH && box.y >= TOP && box.y + box.h <= BOTTOM + 0.01, id);
      assert.ok(box.w >= 80 && box.h >= 80, `${id} is too small to read: ${box.w} × ${box.h}`);
    }
    for (const [a, first] of outer) for (const [b, second] of outer) if (a !== b) assert.ok(!overlaps(first, second), `${a} ${b}`);
    for (const d of state.daemons) {
      const outside = drawn.boxes.get(d.id);
      for (const inner of [d.runtime, ...d.parts].map((box) => drawn.boxes.get(box.id))) {
        assert.ok(inner.x >= outside.x && inner.y >= outside.y && inner.x + inner.w <= outside.x + outside.w
          && inner.y + inner.h <= outside.y + outside.h);
      }
    }
    assert.equal(drawn.edges.length, state.edges.length);
    const widest = 30 * 10 + 26; // a label of the most characters map.js draws, at 16px bold
    for (const { id, label } of drawn.edges) {
      const [left, right] = label.anchor === "end" ? [label.x - widest, label.x] : [label.x, label.x + widest];
      assert.ok(left >= 0 && right <= WIDTH && label.y > TOP && label.y < BOTTOM, id);
    }
    assert.ok(HEIGHT > BOTTOM);
  });
}

test("an edge whose box is not drawn is left out", () => {
  const state = mapState();
  state.edges.push({ id: "client:gone|daemon:x", kind: "client-daemon", from: "client:gone", to: `daemon:${HOST}` });
  assert.equal(layout(state).edges.length, state.edges.length - 1);
});
