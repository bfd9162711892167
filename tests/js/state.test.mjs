import { test } from "node:test";
import assert from "node:assert/strict";

import { LIMIT, applyFrame, emptyState, hasEvents, newestFirst, unreachableWatchers } from "../../static/archviz/state.js";

const event = (id, kind = "container-start", source = "daemon", host = "unix:///d.sock") => ({
  id, kind, source, host, time_ns: String(1_700_000_000_000_000_000n + BigInt(id) * 1000n), subject: `c${id}`,
  attributes: {}, correlation: "",
});
// `seq` numbers publications, not observations: a snapshot of publications 1..seq, and delta number seq.
const snapshot = (observations, watchers = [], seq = observations.length) => ({
  type: "snapshot", seq, observations, watchers,
});
const delta = (seq, ...observations) => ({ type: "observations", seq, observations });

test("a snapshot followed by deltas equals a fresh snapshot of the same store", () => {
  const store = [1, 2, 3, 4, 5].map((id) => event(id));
  let { state } = applyFrame(emptyState(), snapshot(store.slice(0, 2), [], 1));
  state = applyFrame(state, delta(2, store[2])).state;
  state = applyFrame(state, delta(3, store[3], store[4])).state;
  const fresh = applyFrame(emptyState(), snapshot(store, [], 3)).state;
  assert.deepEqual(state, fresh);
});

test("a delta that skips a number asks for a resync and changes nothing", () => {
  const { state } = applyFrame(emptyState(), snapshot([event(1), event(2)], [], 2));
  const result = applyFrame(state, delta(4, event(4)));
  assert.equal(result.resync, true);
  assert.equal(result.applied, false);
  assert.equal(result.state, state);
});

test("observation ids may skip (PostgreSQL's do): only publication numbers must not", () => {
  const { state } = applyFrame(emptyState(), snapshot([event(1)], [], 1));
  const result = applyFrame(state, delta(2, event(40)));
  assert.equal(result.resync, false);
  assert.deepEqual(result.added.map((o) => o.id), [40]);
});

test("a delta the snapshot already holds is not applied again", () => {
  const { state } = applyFrame(emptyState(), snapshot([event(1), event(2)], [], 2));
  const result = applyFrame(state, delta(2, event(2)));
  assert.equal(result.resync, false);
  assert.equal(result.applied, false);
  assert.deepEqual(result.added, []);
  assert.equal(result.state.observations.size, 2);
});

test("a reconnect's snapshot throws the old state away", () => {
  const { state } = applyFrame(emptyState(), snapshot([event(1), event(2)], [], 2));
  const after = applyFrame(state, snapshot([event(7)], [], 9)).state;
  assert.deepEqual([...after.observations.keys()], [7]);
  assert.equal(after.seq, 9);
});

test("only the newest LIMIT observations are kept", () => {
  const many = Array.from({ length: LIMIT + 10 }, (_, i) => event(i + 1));
  const { state, added } = applyFrame(emptyState(), snapshot(many));
  assert.equal(state.observations.size, LIMIT);
  assert.equal(Math.min(...state.observations.keys()), 11);
  assert.equal(added.length, LIMIT);
});

test("the latest watcher report per daemon says whether it is reachable", () => {
  const down = event(3, "watcher-unreachable", "watcher");
  let { state } = applyFrame(emptyState(), snapshot([event(1, "watcher-connected", "watcher"), event(2)]));
  assert.deepEqual(unreachableWatchers(state), []);
  state = applyFrame(state, delta(3, down)).state;
  assert.deepEqual(unreachableWatchers(state), [down]);
  state = applyFrame(state, delta(4, event(4, "watcher-connected", "watcher"))).state;
  assert.deepEqual(unreachableWatchers(state), []);
});

test("watcher reports alone do not count as events", () => {
  const { state } = applyFrame(emptyState(), snapshot([event(1, "watcher-unreachable", "watcher")]));
  assert.equal(hasEvents(state), false);
  assert.equal(hasEvents(applyFrame(state, delta(2, event(2))).state), true);
});

test("newest first orders by daemon time, beyond what a JS number can hold exactly", () => {
  const a = { ...event(1), time_ns: "1700000000000000001" };
  const b = { ...event(2), time_ns: "1700000000000000000" };
  assert.deepEqual(newestFirst([b, a]).map((o) => o.id), [1, 2]);
});
