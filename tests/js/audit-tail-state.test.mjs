import { test } from "node:test";
import assert from "node:assert/strict";

import {
  PAGE, applyTailFrame, emptyTail, olderQuery, pauseTail, resumeTail, waiting,
} from "../../static/archviz/audit-tail-state.js";

const event = (n, time = 1000 + n) => ({ event_id: `e${n}`, cursor: `${time}000000000.${n}`, action: "push" });
const snapshot = (seq, events, more = false) => ({ type: "audit-snapshot", seq, events, more });
const ids = (page) => page.events.map((e) => e.event_id);

test("a snapshot followed by the rows of each publication equals a fresh snapshot", () => {
  let { state } = applyTailFrame(emptyTail(), snapshot(4, [event(2), event(1)]));
  state = applyTailFrame(state, { type: "audit", seq: 5 }).state;
  state = applyTailFrame(state, { type: "audit", seq: 6, events: [event(4), event(3)] }).state;
  // A row that arrives late with an older time takes its place in the page's order, not the top.
  state = applyTailFrame(state, { type: "audit", seq: 7, events: [event(5, 1000)] }).state;
  const fresh = applyTailFrame(emptyTail(), snapshot(7, [event(4), event(3), event(2), event(1), event(5, 1000)])).state;
  assert.deepEqual(state, fresh);
  assert.deepEqual(ids(state.shown), ["e4", "e3", "e2", "e1", "e5"]);
});

test("a skipped number asks for a fresh snapshot; a number the snapshot holds changes nothing", () => {
  const { state } = applyTailFrame(emptyTail(), snapshot(4, [event(1)]));
  assert.equal(applyTailFrame(state, { type: "audit", seq: 6, events: [event(2)] }).resync, true);
  const old = applyTailFrame(state, { type: "audit", seq: 4, events: [event(1)] });
  assert.equal(old.resync, false);
  assert.equal(old.state, state);
  assert.equal(applyTailFrame(emptyTail(), { type: "audit", seq: 1, events: [event(1)] }).state.seq, null);
});

test("a redelivered row is shown once", () => {
  let { state } = applyTailFrame(emptyTail(), snapshot(1, [event(1)]));
  state = applyTailFrame(state, { type: "audit", seq: 2, events: [event(1), event(2)] }).state;
  assert.deepEqual(ids(state.shown), ["e2", "e1"]);
});

test("paused, the table stands still and counts what waits; resumed, it shows the newest page", () => {
  let { state } = applyTailFrame(emptyTail(), snapshot(1, [event(1)]));
  state = pauseTail(state);
  state = applyTailFrame(state, { type: "audit", seq: 2, events: [event(2)] }).state;
  state = applyTailFrame(state, { type: "audit", seq: 3, events: [event(3)] }).state;
  assert.deepEqual(ids(state.shown), ["e1"]);
  assert.equal(waiting(state), 2);
  state = applyTailFrame(state, snapshot(3, [event(3), event(2), event(1)])).state;
  assert.equal(waiting(state), 2);
  state = resumeTail(state);
  assert.deepEqual(ids(state.shown), ["e3", "e2", "e1"]);
  assert.equal(waiting(state), 0);
});

test("the page keeps its size, and the older link starts after its last row", () => {
  const first = Array.from({ length: PAGE }, (_, n) => event(PAGE - n));
  let { state } = applyTailFrame(emptyTail(), snapshot(1, first));
  assert.equal(olderQuery(state, "repository=lab%2Fapp"), null);
  state = applyTailFrame(state, { type: "audit", seq: 2, events: [event(PAGE + 1)] }).state;
  assert.equal(state.shown.events.length, PAGE);
  assert.equal(olderQuery(state, "repository=lab%2Fapp&before=1.1"), `repository=lab%2Fapp&before=${event(2).cursor}`);
});
