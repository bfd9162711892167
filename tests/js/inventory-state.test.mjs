import { test } from "node:test";
import assert from "node:assert/strict";

import { applyInventoryFrame, emptyInventory, imageName, sharedLayers, visibleRows } from "../../static/archviz/inventory-state.js";

const host = (revision, images = [], containers = []) => ({ revision, images, containers, networks: [], volumes: [] });
const image = (id, tags, layers) => ({ id, tags, digests: [], size: 10, created: 1, layers, containers: [] });
const layer = (id, size) => ({ id, size, created_by: "" });

test("a snapshot followed by changes equals a fresh snapshot", () => {
  const a = image("sha256:a", ["a:1"], [layer("l1", 5)]);
  const b = image("sha256:b", ["b:1"], [layer("l1", 5), layer("l2", 3)]);
  let { state } = applyInventoryFrame(emptyInventory(), { type: "inventory-snapshot", hosts: { h: host(1, [a]) } });
  state = applyInventoryFrame(state, { type: "inventory", host: "h", revision: 2, reload: false,
    changes: [{ op: "upsert", kind: "image", id: b.id, item: b }] }).state;
  state = applyInventoryFrame(state, { type: "inventory", host: "h", revision: 3, reload: false,
    changes: [{ op: "remove", kind: "image", id: a.id, item: null }] }).state;
  const fresh = applyInventoryFrame(emptyInventory(), { type: "inventory-snapshot", hosts: { h: host(3, [b]) } }).state;
  assert.deepEqual(state, fresh);
});

test("a skipped revision or a reload asks for a fresh snapshot", () => {
  const { state } = applyInventoryFrame(emptyInventory(), { type: "inventory-snapshot", hosts: { h: host(4) } });
  assert.equal(applyInventoryFrame(state, { type: "inventory", host: "h", revision: 6, reload: false, changes: [] }).resync, true);
  assert.equal(applyInventoryFrame(state, { type: "inventory", host: "h", revision: 5, reload: true, changes: [] }).resync, true);
  assert.equal(applyInventoryFrame(state, { type: "inventory", host: "new", revision: 1, reload: false, changes: [] }).resync, true);
  const old = applyInventoryFrame(state, { type: "inventory", host: "h", revision: 4, reload: false, changes: [] });
  assert.equal(old.resync, false);
  assert.equal(old.state, state);
});

test("shared layers are those two images have in common, biggest saving first", () => {
  const images = [
    image("sha256:a", ["a:1"], [layer("base", 100), layer("x", 1)]),
    image("sha256:b", ["b:1"], [layer("base", 100), layer("y", 2)]),
    image("sha256:c", ["c:1"], [layer("base", 100), layer("y", 2)]),
  ];
  const shared = sharedLayers(images);
  assert.deepEqual(shared.map((l) => [l.id, l.images.length, l.saved]), [["base", 3, 200], ["y", 2, 2]]);
});

test("an untagged image is named by its digest or its id", () => {
  assert.equal(imageName({ id: "sha256:0123456789abcdef", tags: [], digests: [] }), "0123456789ab");
  assert.equal(imageName({ id: "sha256:0", tags: [], digests: ["r/app@sha256:9"] }), "r/app@…");
});

test("rows filter on any cell and sort by a column either way", () => {
  const rows = [
    { cells: [{ text: "web" }, { text: "2 MB", sort: 2 }] },
    { cells: [{ text: "db" }, { text: "10 MB", sort: 10 }] },
    { cells: [{ text: "cache" }, { text: "1 MB", sort: 1 }] },
  ];
  assert.deepEqual(visibleRows(rows, { column: 1 }).map((r) => r.cells[0].text), ["cache", "web", "db"]);
  assert.deepEqual(visibleRows(rows, { column: 1, descending: true }).map((r) => r.cells[0].text), ["db", "web", "cache"]);
  assert.deepEqual(visibleRows(rows, { text: "DB" }).map((r) => r.cells[0].text), ["db"]);
});
