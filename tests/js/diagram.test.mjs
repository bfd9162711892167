import { test } from "node:test";
import assert from "node:assert/strict";

import { MAX_MESSAGES, applySequence, emptyDiagram, orderedParticipants, setFilter, visibleRows } from "../../static/archviz/diagram.js";

const participants = [
  { id: "daemon:d", role: "daemon", label: "Daemon" },
  { id: "client:docker", role: "client", label: "Client" },
  { id: "runtime:d", role: "runtime", label: "Runtime" },
  { id: "registry:r", role: "registry", label: "Registry" },
];
let counter = 0;
const message = (sender, receiver, extra = {}) => {
  counter += 1;
  return {
    id: `${counter}.0`, time_ns: String(1_700_000_000_000_000_000n + BigInt(counter)), sender, receiver,
    kind: "request", label: `m${counter}`, observation: counter, interaction: "i1", block: null, inferred: true, ...extra,
  };
};
const sequence = (messages, interactions = [{ id: "i1", title: "docker run x", blocks: {} }]) => ({ participants, messages, interactions });

test("columns follow Docker's picture: client, daemon, runtime, registry, whatever arrives first", () => {
  const diagram = emptyDiagram();
  applySequence(diagram, sequence([message("daemon:d", "registry:r"), message("client:docker", "daemon:d"), message("daemon:d", "runtime:d")]));
  assert.deepEqual(orderedParticipants(diagram).map((p) => p.role), ["client", "daemon", "runtime", "registry"]);
});

test("rows only grow downwards, with room for an interaction title and an alt label", () => {
  const diagram = emptyDiagram();
  applySequence(diagram, sequence([
    message("client:docker", "daemon:d", { block: "b1" }),
    message("daemon:d", "registry:r", { block: "b1" }),
    message("client:docker", "daemon:d"),
  ]));
  const [first, second, third] = diagram.rows;
  assert.ok(first.top === 0 && second.top === first.bottom && third.top === second.bottom);
  assert.ok(first.bottom - first.top > second.bottom - second.top, "the first row holds the title and the alt label");
  assert.equal(diagram.spans.get("i1").first, 0);
  assert.equal(diagram.spans.get("i1").last, 2);
  assert.equal(diagram.blockSpans.get("b1").last, 1);
});

test("a message seen twice is drawn once", () => {
  const diagram = emptyDiagram();
  const once = message("client:docker", "daemon:d");
  applySequence(diagram, sequence([once]));
  const result = applySequence(diagram, sequence([once]));
  assert.equal(diagram.rows.length, 1);
  assert.equal(result.firstNewRow, 1);
});

test("only the rows in the window are picked, found by binary search", () => {
  const diagram = emptyDiagram();
  applySequence(diagram, sequence(Array.from({ length: 1000 }, () => message("client:docker", "daemon:d"))));
  const [first, end] = visibleRows(diagram, 10_000, 10_600);
  assert.ok(end - first < 25 && end - first > 10);
  assert.ok(diagram.rows[first].bottom > 10_000 && diagram.rows[end - 1].top < 10_600);
});

test("hiding a party drops every arrow that touches it", () => {
  const diagram = emptyDiagram();
  applySequence(diagram, sequence([message("client:docker", "daemon:d"), message("daemon:d", "registry:r"), message("daemon:d", "runtime:d")]));
  setFilter(diagram, { hiddenRoles: new Set(["registry"]), since: null, until: null });
  assert.deepEqual(diagram.rows.map((row) => row.message.receiver), ["daemon:d", "runtime:d"]);
  assert.ok(!diagram.columns.has("registry:r"));
});

test("a time range keeps the arrows inside it", () => {
  const diagram = emptyDiagram();
  const messages = [message("client:docker", "daemon:d"), message("client:docker", "daemon:d"), message("client:docker", "daemon:d")];
  applySequence(diagram, sequence(messages));
  setFilter(diagram, { hiddenRoles: new Set(), since: BigInt(messages[1].time_ns), until: BigInt(messages[1].time_ns) });
  assert.deepEqual(diagram.rows.map((row) => row.message.id), [messages[1].id]);
});

test("past the limit the oldest arrows go and the layout starts again", () => {
  const diagram = emptyDiagram();
  applySequence(diagram, sequence(Array.from({ length: MAX_MESSAGES }, () => message("client:docker", "daemon:d"))));
  const result = applySequence(diagram, sequence(Array.from({ length: MAX_MESSAGES * 0.2 }, () => message("client:docker", "daemon:d"))));
  assert.equal(result.relaid, true);
  assert.equal(diagram.messages.length, MAX_MESSAGES);
  assert.equal(diagram.rows[0].top, 0);
});
