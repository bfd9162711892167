import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import {
  HELP, KEYS, MAX_GAP_MS, MIN_GAP_MS, actionFor, delayMs, elapsed, initialState, positionHash, readAddress, readLesson,
  reduce, shared, stepRows, trackerRows, windowStart,
} from "../../static/archviz/present-state.js";

// /api/present/'s answer for a recorded `docker run` of a missing image, then a `docker pull`.
const payload = JSON.parse(readFileSync(new URL("../data/present/run-then-pull.json", import.meta.url)));
const lesson = readLesson(payload);
const [run, pull] = payload.interactions;
const act = (state, ...actions) => actions.reduce((s, action) => reduce(s, action, lesson), state);
const at = (position) => ({ ...initialState(lesson), position });

test("the address gives the data's query, the position and the presenter's window", () => {
  assert.deepEqual(readAddress("?session=pull-nginx&at=17", ""), { query: "session=pull-nginx", position: 17, presenter: false });
  assert.equal(readAddress("?session=s&at=3", "#i=12").position, 12, "the hash, which stepping rewrites, wins");
  assert.deepEqual(readAddress("?since=1&until=2&presenter=1", "#i=x"), { query: "since=1&until=2", position: null, presenter: true });
  assert.equal(readAddress("?presenter=1", "").query, "");
  assert.equal(readAddress(`?session=s`, positionHash(7)).position, 7);
});

test("a link reopens the frame it names, and a position past the end is the last arrow", () => {
  assert.equal(initialState(lesson, 17).position, 17);
  assert.equal(initialState(lesson, 10_000).position, lesson.count - 1);
  assert.equal(initialState(lesson).position, 0);
});

test("stepping moves one arrow and stops at both ends", () => {
  assert.equal(act(at(0), { type: "previous" }).position, 0);
  assert.equal(act(at(0), { type: "next" }, { type: "next" }).position, 2);
  assert.equal(act(at(lesson.count - 1), { type: "next" }).position, lesson.count - 1);
  assert.equal(act(at(5), { type: "first" }).position, 0);
  assert.equal(act(at(5), { type: "last" }).position, lesson.count - 1);
});

test("shift-arrows go from command box to command box", () => {
  assert.equal(act(at(3), { type: "next-command" }).position, pull.first);
  assert.equal(act(at(pull.first + 4), { type: "previous-command" }).position, pull.first, "first back to this box's start");
  assert.equal(act(at(pull.first), { type: "previous-command" }).position, run.first, "then to the box before");
  assert.equal(act(at(pull.first + 1), { type: "next-command" }).position, pull.first + 1, "no box after the last");
});

test("the digits jump to 0 … 90 % of the session", () => {
  assert.equal(act(at(20), actionFor({ key: "0" })).position, 0);
  assert.equal(act(at(0), actionFor({ key: "5" })).position, Math.floor(lesson.count / 2));
  assert.equal(act(at(0), actionFor({ key: "9" })).position, Math.floor(lesson.count * 0.9));
});

test("every key of the players people know has its action, and the help lists them all", () => {
  const expected = {
    " ": "toggle-play", ArrowRight: "next", ArrowLeft: "previous", Home: "first", End: "last", f: "fullscreen",
    b: "blackout", "?": "help", 3: "jump",
  };
  for (const [key, type] of Object.entries(expected)) assert.equal(actionFor({ key, shiftKey: key === "?" }).type, type, key);
  assert.equal(actionFor({ key: "ArrowRight", shiftKey: true }).type, "next-command");
  assert.equal(actionFor({ key: "ArrowLeft", shiftKey: true }).type, "previous-command");
  assert.equal(actionFor({ key: "x" }), null);
  assert.deepEqual(HELP.map(([name]) => name), ["Space", "→", "←", "Shift + →", "Shift + ←", "Home", "End", "0 … 9", "f", "b", "?"]);
  assert.equal(KEYS.filter((entry) => entry.action.type === "jump").length, 10);
});

test("playing waits the recorded gap, at least MIN_GAP_MS, at most MAX_GAP_MS, divided by the speed", () => {
  const gapNs = (i) => Number(BigInt(lesson.messages[i + 1].time_ns) - BigInt(lesson.messages[i].time_ns));
  const long = lesson.messages.findIndex((m, i) => i < lesson.count - 1 && gapNs(i) > MAX_GAP_MS * 1e6);
  assert.equal(delayMs(lesson, long, 1), MAX_GAP_MS, "the pause between the two commands is capped");
  assert.equal(delayMs(lesson, 0, 1), MIN_GAP_MS, "an arrow sent before the one drawn above it still stays a while");
  assert.equal(delayMs(lesson, 0, 4), MIN_GAP_MS / 4);
  assert.equal(delayMs(lesson, long, 0.5), MAX_GAP_MS * 2);
  assert.equal(delayMs(lesson, lesson.count - 1, 1), null);
});

test("play runs to the end and stops; play at the end starts again; a speed outside the list is refused", () => {
  let state = act(at(lesson.count - 3), { type: "toggle-play" });
  assert.equal(state.playing, true);
  state = act(state, { type: "tick" }, { type: "tick" });
  assert.deepEqual([state.position, state.playing], [lesson.count - 1, false]);
  state = act(state, { type: "toggle-play" });
  assert.deepEqual([state.position, state.playing], [0, true]);
  assert.equal(act(state, { type: "toggle-play" }).playing, false);
  assert.equal(act(state, { type: "speed", speed: 2 }).speed, 2);
  assert.equal(act(state, { type: "speed", speed: 3 }).speed, 1);
  assert.equal(act(at(4), { type: "tick" }).position, 4, "a late tick after pausing moves nothing");
});

test("with the quiz on, stepping asks first and the answer reveals the arrow and counts", () => {
  const asked = lesson.messages.findIndex((m) => m.quiz);
  const question = lesson.messages[asked].quiz;
  let state = act(at(asked), { type: "toggle-ask" }, { type: "next" });
  assert.deepEqual([state.position, state.quiz], [asked, { index: asked, hint: false }], "the arrow waits for the answer");
  state = act(state, { type: "hint" });
  assert.equal(state.quiz.hint, true);
  state = act(state, { type: "answer", choice: question.answer });
  assert.equal(state.position, asked + 1);
  assert.deepEqual(state.answered, { index: asked, choice: question.answer, right: true });
  assert.deepEqual(state.score, { right: 1, wrong: 0 });
  const wrong = question.choices.find((choice) => choice !== question.answer);
  state = act(at(asked), { type: "toggle-ask" }, { type: "next" }, { type: "answer", choice: wrong });
  assert.deepEqual([state.position, state.answered.right, state.score.wrong], [asked + 1, false, 1]);
});

test("no question where the server has none, none while playing, and stepping past one counts nothing", () => {
  const quiet = lesson.messages.findIndex((m, i) => i < lesson.count - 1 && !m.quiz);
  assert.equal(act(at(quiet), { type: "toggle-ask" }, { type: "next" }).position, quiet + 1);
  const asked = lesson.messages.findIndex((m) => m.quiz);
  const playing = act(at(asked), { type: "toggle-ask" }, { type: "play" }, { type: "tick" });
  assert.deepEqual([playing.position, playing.quiz], [asked + 1, null]);
  const skipped = act(at(asked), { type: "toggle-ask" }, { type: "next" }, { type: "next" });
  assert.deepEqual([skipped.position, skipped.quiz, skipped.score], [asked + 1, null, { right: 0, wrong: 0 }]);
  assert.equal(act(at(asked), { type: "answer", choice: "daemon" }).position, asked, "no answer without a question");
  assert.equal(act(at(asked), { type: "toggle-ask" }, { type: "next" }, { type: "previous" }).quiz, null);
});

test("the audience window takes the presenter's shared state, never its score", () => {
  const presenter = act(at(9), { type: "toggle-ask" }, { type: "blackout" }, { type: "speed", speed: 4 });
  const audience = act(initialState(lesson), { type: "sync", shared: shared(presenter) });
  assert.deepEqual(shared(audience), shared(presenter));
  assert.ok(!("score" in shared(presenter)));
  assert.equal(act(audience, { type: "blackout" }).blackout, false);
});

test("the window ends at the current arrow and holds as many arrows as fit, titles and alt labels counted", () => {
  const measure = { height: () => 40, title: 30, alt: 20 };
  // One arrow, its box's title and (inside the pull) its alt label fit in 90 px.
  const inPull = lesson.messages.findIndex((m) => m.block !== null) + 3;
  assert.equal(windowStart(lesson.messages, inPull, 90, measure), inPull);
  assert.equal(windowStart(lesson.messages, inPull, 130, measure), inPull - 1);
  assert.equal(windowStart(lesson.messages, 10, 10_000, measure), 0);
  assert.equal(windowStart(lesson.messages, 0, 10, measure), 0);
  // Across two commands, the second one's title is counted where it opens.
  const start = windowStart(lesson.messages, pull.first + 1, 30 + 40 * 3 + 30, measure);
  assert.equal(start, pull.first - 1);
});

test("the step table lights the current arrow's step, with the ones before done", () => {
  const message = lesson.messages.findIndex((m) => m.step === 3);
  const { title, rows } = stepRows(lesson, message);
  assert.equal(title, run.title);
  assert.deepEqual(rows.map((row) => row.state), ["done", "done", "current", "next", "next", "next"]);
  assert.equal(rows[2].component, "Daemon");
  assert.deepEqual(stepRows(lesson, lesson.count - 1).rows.map((row) => row.state).slice(-2), ["done", "current"]);
});

test("the tracker reads as the lessons' table: empty, k of n layers, complete with bytes; container state", () => {
  const image = (state) => lesson.messages.find((m) => m.tracker.image && m.tracker.image.state === state).tracker;
  assert.deepEqual(trackerRows(image("empty")).map((row) => [row.text, row.about]),
    [[run.title, ""], ["Empty", "127.0.0.1:5000/lab/app:1"], ["—", ""]]);
  assert.equal(trackerRows(image("partial"))[1].text, "1 of ? layers");
  assert.equal(trackerRows(image("partial"))[1].fraction, null, "no share while the layer count is unknown");
  const complete = trackerRows(image("complete"))[1];
  assert.equal(complete.text, "Complete (2 layers, 113 B downloaded)");
  assert.equal(complete.fraction, 1);
  const exited = lesson.messages.find((m) => m.tracker.container && m.tracker.container.state === "exited").tracker;
  assert.deepEqual(trackerRows(exited)[2], { what: "container", state: "exited", text: "exited with code 0", about: "relaxed_carson" });
  assert.deepEqual(trackerRows(null).map((row) => row.state), ["none", "none", "none"]);
});

test("the clock counts from the session's earliest arrow", () => {
  assert.match(elapsed(lesson, 0), /^\+0\.\d{3} s$/);
  assert.match(elapsed(lesson, pull.first), /^\+3[45]\.\d{3} s$/);
});
