import { test } from "node:test";
import assert from "node:assert/strict";

import { actionLabel, barRows, stacked, summaries, timeRows } from "../../static/archviz/audit-charts-data.js";

const chart = {
  total: 9,
  lines: ["push", "pull", "check"],
  time: { start_ns: "1795348800000000000", bucket_ns: "60000000000",
          counts: { push: [2, 0, 1], pull: [1, 0, 0], check: [3, 0, 2] } },
  repositories: { names: ["lab/app", "lab/base"], counts: { push: [3, 0], pull: [1, 0], check: [3, 2] }, more: 4 },
  actors: { names: ["alice", ""], counts: { push: [3, 0], pull: [0, 1], check: [2, 3] }, more: 0 },
};

test("stacked series: each is the sum of its action and those after it, and an empty bar is not drawn", () => {
  assert.deepEqual(stacked(chart.lines, chart.time.counts), [[6, null, 3], [4, null, 2], [3, null, 2]]);
  assert.deepEqual(stacked([], {}), []);
});

test("the numbers behind the time chart name each bucket that holds events, in UTC", () => {
  assert.deepEqual(timeRows(chart), [
    { from: "2026-11-22 12:00:00", until: "2026-11-22 12:01:00", counts: [2, 1, 3], total: 6 },
    { from: "2026-11-22 12:02:00", until: "2026-11-22 12:03:00", counts: [1, 0, 2], total: 3 },
  ]);
});

test("each chart says what it shows in a sentence, anonymous clients included", () => {
  const said = summaries(chart);
  assert.equal(said.time, "9 events from 2026-11-22 12:00:00 to 2026-11-22 12:03:00 UTC: pushes 3, downloads 1, "
    + "existence checks 5; the busiest stretch from 2026-11-22 12:00:00.");
  assert.equal(said.repositories, "2 busiest repositories: lab/app 7, lab/base 2, and 4 more repositories.");
  assert.equal(said.actors, "Events per actor: alice 5, (anonymous) 4.");
  assert.deepEqual(barRows(chart, "actors").map((row) => row.total), [5, 4]);
  assert.equal(actionLabel("replication"), "replications");
  assert.equal(actionLabel("something-new"), "something-new");
});
