// The present view (/present/) and the presenter's view (/present/?presenter=1): fetches the lesson from
// /api/present/ with the query the page was opened with, holds the replay state (present-state.js), runs
// the play clock, and draws. The presenter's window drives the audience's over a BroadcastChannel: it
// sends its shared state on every change; an audience window that has heard from it sends its keys and
// clicks there instead of acting on them. Quiz counts live in the presenter's sessionStorage, nowhere else.

import { clockTime } from "./events.js";
import { canvasMeasure, drawSteps, drawTracker, drawWindow, fitSteps } from "./present-draw.js";
import {
  HELP, SPEEDS, actionFor, delayMs, elapsed, initialState, positionHash, readAddress, readLesson, reduce, shared,
  stepRows, trackerRows,
} from "./present-state.js";

const SELECTORS = {
  title: "#present-title",
  controls: ".present-controls",
  play: "#present-play",
  speed: "#present-speed",
  ask: "#present-ask",
  theme: "#present-theme",
  audience: "#present-audience",
  presenterLink: "#present-presenter",
  message: "#present-message",
  messageTitle: ".present-message-title",
  messageBody: ".present-message-body",
  stage: "#present-stage",
  side: "#present-side",
  position: "#present-position",
  clock: "#present-clock",
  narration: "#present-narration",
  arrow: "#present-arrow",
  quiz: "#present-quiz",
  quizQuestion: ".quiz-question",
  quizChoices: ".quiz-choices",
  quizHintButton: ".quiz-hint-button",
  quizHint: ".quiz-hint",
  quizAnswer: ".quiz-answer",
  answered: "#present-answered",
  diagramArea: "#present-diagram-area",
  header: "#present-header",
  diagram: "#present-diagram",
  tracker: "#present-tracker",
  steps: "#present-steps",
  notesNextArrow: "#notes-next-arrow",
  notesNext: "#notes-next",
  notesScore: "#notes-score",
  notesBlackout: "#notes-blackout",
  blackout: "#present-blackout",
  help: "#present-help",
};
const THEME_KEY = "archviz-present-theme";
const ADDRESS_DELAY_MS = 150;

const $ = (selector) => document.querySelector(selector);
const address = readAddress(location.search, location.hash);
const scoreKey = `archviz-quiz ${address.query}`;
let lesson = null;
let state = null;
let indexOf = new Map();
let roles = new Map();
let timer = null;
let addressTimer = null;
let sideKeys = { tracker: null, steps: null };
let driven = false;
let measure = null;
const channel = "BroadcastChannel" in window ? new BroadcastChannel(`archviz-present ${address.query}`) : null;

// What the page says when there is nothing to show ----------------------------------------------------------

function paragraph(text, className = "") {
  const p = document.createElement("p");
  p.textContent = text;
  if (className) p.className = className;
  return p;
}

function showMessage(kind, title, ...body) {
  document.body.dataset.state = kind;
  $(SELECTORS.stage).hidden = true;
  $(SELECTORS.side).hidden = true;
  const box = $(SELECTORS.message);
  box.hidden = false;
  box.dataset.kind = kind;
  box.querySelector(SELECTORS.messageTitle).textContent = title;
  box.querySelector(SELECTORS.messageBody).replaceChildren(...body);
  document.body.dataset.ready = "true";
}

function link(href, text) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  return a;
}

function rangeExplanation() {
  const now = Math.floor(Date.now() / 1000);
  const example = `?since=${now - 900}&until=${now}`;
  const p = paragraph("Or present what this dashboard recorded in a time range: ");
  p.append(link(`/present/${example}`, `/present/${example}`),
    " (the last 15 minutes; since and until take Unix seconds or ISO 8601 times, as the Mermaid export does).");
  return p;
}

async function showNoSource() {
  let sessions = [];
  try {
    const response = await fetch("/api/sessions/");
    const body = response.ok ? await response.json() : null;
    sessions = body && Array.isArray(body.sessions) ? body.sessions : [];
  } catch {
    sessions = [];
  }
  const body = [];
  if (sessions.length > 0) {
    body.push(paragraph("Pick a session to present:"));
    const list = document.createElement("ul");
    list.className = "session-list";
    for (const session of sessions) {
      const item = document.createElement("li");
      item.append(link(`/present/?session=${encodeURIComponent(session.name)}`, session.title || session.name));
      if (session.title) item.append(paragraph(session.name, "session-name"));
      list.append(item);
    }
    body.push(list);
  } else {
    body.push(paragraph("No saved session answered from /api/sessions/: name one in the address, /present/?session=NAME."));
  }
  body.push(rangeExplanation());
  showMessage("empty", "Which session?", ...body);
}

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

// Opening -----------------------------------------------------------------------------------------------

async function open() {
  applyTheme(localStorage.getItem(THEME_KEY) || (matchMedia("(prefers-color-scheme: light)").matches ? "light" : "dark"));
  drawHelp();
  // The page's head names the request (see views.present), so that it started before this script loaded.
  const api = document.body.dataset.api;
  if (!api) return showNoSource();
  let response;
  try {
    response = await fetch(api);
  } catch (error) {
    return showMessage("error", "The dashboard did not answer", paragraph(`${error.message}: is manage.py serve still running? Reload this page once it is.`));
  }
  const payload = await readJson(response);
  if (!response.ok || payload === null) {
    const said = payload && payload.error ? payload.error : `/api/present/ answered HTTP ${response.status} without data.`;
    return showMessage("error", "Nothing to present", paragraph(said, "error-text"), rangeExplanation());
  }
  if (payload.schema !== 1) {
    return showMessage("error", "This page cannot read that answer",
      paragraph(`/api/present/ sent schema ${payload.schema}; this page reads schema 1. Reload the page to get the dashboard's current one.`));
  }
  lesson = readLesson(payload);
  if (lesson.count === 0) {
    return showMessage("empty", "Nothing happened in this range",
      paragraph("No arrow was recorded between since and until: widen the range, or pick a session."), rangeExplanation());
  }
  indexOf = new Map(lesson.messages.map((message, index) => [message.id, index]));
  roles = new Map(lesson.participants.map((participant) => [participant.id, participant.role]));
  state = initialState(lesson, address.position);
  if (address.presenter) state = { ...state, score: loadScore() };
  $(SELECTORS.title).textContent = lesson.session
    ? lesson.session.title || lesson.session.name
    : `recorded ${clockTime(lesson.messages[0].time_ns)} – ${clockTime(lesson.messages[lesson.count - 1].time_ns)}`;
  $(SELECTORS.title).title = $(SELECTORS.title).textContent;
  $(SELECTORS.speed).replaceChildren(...SPEEDS.map((speed) => {
    const option = document.createElement("option");
    option.value = String(speed);
    option.textContent = `${speed}×`;
    return option;
  }));
  $(SELECTORS.controls).hidden = false;
  $(SELECTORS.message).hidden = true;
  $(SELECTORS.stage).hidden = false;
  $(SELECTORS.side).hidden = false;
  document.body.dataset.state = "ready";
  measure = canvasMeasure(getComputedStyle(document.body).fontFamily);
  listen();
  if (address.presenter) broadcast();
  else if (channel) channel.postMessage({ type: "hello" });
  draw();
  document.body.dataset.ready = "true";
  // When the first frame is drawn and the keys work (bench/present.py reads it).
  performance.mark("present-ready");
}

// Acting -------------------------------------------------------------------------------------------------

// Full screen and the help are each window's own; the rest goes to the presenter's window when it drives this one.
function dispatch(action) {
  if (action.type === "fullscreen") toggleFullscreen();
  else if (action.type === "help") toggleHelp();
  else if (!lesson) return;
  else if (driven) channel.postMessage({ type: "action", action });
  else change(reduce(state, action, lesson));
}

function change(next) {
  if (next === state) return;
  const moved = next.position !== state.position;
  state = next;
  draw();
  schedule();
  if (moved) rememberPosition();
  if (address.presenter) {
    broadcast();
    sessionStorage.setItem(scoreKey, JSON.stringify(state.score));
  }
}

// The address follows the position, written once stepping pauses: each history call costs milliseconds, and
// browsers slow down pages that make hundreds of them.
function rememberPosition() {
  clearTimeout(addressTimer);
  addressTimer = setTimeout(() => {
    history.replaceState(null, "", `${location.pathname}${location.search}${positionHash(state.position)}`);
  }, ADDRESS_DELAY_MS);
}

function schedule() {
  clearTimeout(timer);
  timer = null;
  if (driven || !state.playing) return;
  const wait = delayMs(lesson, state.position, state.speed);
  if (wait !== null) timer = setTimeout(() => dispatch({ type: "tick" }), wait);
}

function toggleFullscreen() {
  const request = document.fullscreenElement ? document.exitFullscreen() : document.documentElement.requestFullscreen();
  request.catch((error) => console.warn("archviz: full screen refused:", error.message));
}

function toggleHelp() {
  const dialog = $(SELECTORS.help);
  if (dialog.open) dialog.close();
  else dialog.showModal();
}

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
}

function loadScore() {
  try {
    const score = JSON.parse(sessionStorage.getItem(scoreKey));
    return Number.isInteger(score.right) && Number.isInteger(score.wrong) ? score : { right: 0, wrong: 0 };
  } catch {
    return { right: 0, wrong: 0 };
  }
}

// The two windows -------------------------------------------------------------------------------------------

function broadcast() {
  if (channel) channel.postMessage({ type: "state", shared: shared(state) });
}

function listenToChannel() {
  if (!channel) return;
  channel.addEventListener("message", ({ data }) => {
    if (address.presenter) {
      if (data.type === "hello") broadcast();
      if (data.type === "action") dispatch(data.action);
      return;
    }
    if (data.type === "state") {
      driven = true;
      document.body.dataset.driven = "true";
      change(reduce(state, { type: "sync", shared: data.shared }, lesson));
    }
    if (data.type === "bye") {
      driven = false;
      document.body.dataset.driven = "false";
      schedule();
    }
  });
  if (address.presenter) addEventListener("pagehide", () => channel.postMessage({ type: "bye" }));
}

function listen() {
  listenToChannel();
  for (const button of document.querySelectorAll("[data-action]")) {
    button.addEventListener("click", () => dispatch({ type: button.dataset.action }));
  }
  $(SELECTORS.speed).addEventListener("change", (event) => dispatch({ type: "speed", speed: Number(event.target.value) }));
  $(SELECTORS.ask).addEventListener("change", () => dispatch({ type: "toggle-ask" }));
  $(SELECTORS.theme).addEventListener("click", () => {
    const theme = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
    localStorage.setItem(THEME_KEY, theme);
    applyTheme(theme);
    draw();
  });
  const notes = $(SELECTORS.presenterLink);
  if (notes) notes.href = `/present/?${address.query}&presenter=1`;
  const audience = $(SELECTORS.audience);
  if (audience) {
    audience.addEventListener("click", () => {
      const query = address.query ? `?${address.query}` : "";
      window.open(`/present/${query}${positionHash(state.position)}`, "archviz-audience");
    });
  }
  const quiz = $(SELECTORS.quiz);
  quiz.querySelector(SELECTORS.quizHintButton).addEventListener("click", () => dispatch({ type: "hint" }));
  quiz.querySelector(SELECTORS.quizChoices).addEventListener("click", (event) => {
    const choice = event.target.closest("button[data-choice]");
    if (choice) dispatch({ type: "answer", choice: choice.dataset.choice });
  });
  const diagram = $(SELECTORS.diagram);
  if (diagram) {
    diagram.addEventListener("click", (event) => {
      const group = event.target.closest("g.message");
      if (group) dispatch({ type: "goto", position: indexOf.get(group.dataset.id) });
    });
    // The full text of an arrow whose label had to be cut: on hover and on focus.
    const reveal = (event) => {
      const group = event.target.closest && event.target.closest("g.message");
      if (group) showArrowLine(lesson.messages[indexOf.get(group.dataset.id)], true);
    };
    const restore = () => showArrowLine(lesson.messages[state.position], false);
    diagram.addEventListener("mouseover", reveal);
    diagram.addEventListener("focusin", reveal);
    diagram.addEventListener("mouseleave", restore);
    diagram.addEventListener("focusout", restore);
  }
  addEventListener("resize", () => {
    sideKeys = { tracker: null, steps: null };
    draw();
  });
  document.addEventListener("fullscreenchange", () => {
    document.body.dataset.fullscreen = String(Boolean(document.fullscreenElement));
  });
}

document.addEventListener("keydown", (event) => {
  if (event.target.closest?.("input[type=text], textarea") || event.ctrlKey || event.metaKey || event.altKey) return;
  const action = actionFor(event);
  if (!action) return;
  event.preventDefault();
  dispatch(action);
});

// Drawing ------------------------------------------------------------------------------------------------

function roleName(role) {
  return role.charAt(0).toUpperCase() + role.slice(1);
}

// An arrow in words: who to whom, by role (each lane's full name is on its header), and its whole label.
function arrowText(message) {
  const full = `${message.label}${message.inferred ? " (inferred)" : ""}`;
  return `${roleName(roles.get(message.sender) || "")} → ${roleName(roles.get(message.receiver) || "")}: ${full}`;
}

function showArrowLine(message, hovered) {
  const line = $(SELECTORS.arrow);
  line.textContent = arrowText(message);
  line.classList.toggle("hovered", hovered);
}

function drawHelp() {
  $(SELECTORS.help).querySelector("dl").replaceChildren(...HELP.flatMap(([name, says]) => {
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = name;
    dd.textContent = says;
    return [dt, dd];
  }));
}

function drawQuiz() {
  const box = $(SELECTORS.quiz);
  const open = state.quiz;
  box.hidden = !open;
  document.body.dataset.quiz = open ? "open" : "closed";
  if (!open) return;
  const question = lesson.messages[open.index].quiz;
  box.querySelector(SELECTORS.quizQuestion).textContent = question.question;
  box.querySelector(SELECTORS.quizChoices).replaceChildren(...question.choices.map((choice) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.choice = choice;
    button.className = `choice role-${choice}`;
    button.textContent = roleName(choice);
    return button;
  }));
  const hint = box.querySelector(SELECTORS.quizHint);
  hint.hidden = !open.hint;
  hint.textContent = question.hint;
  box.querySelector(SELECTORS.quizHintButton).hidden = open.hint;
  const answer = box.querySelector(SELECTORS.quizAnswer);
  answer.hidden = !address.presenter;
  answer.textContent = `answer: ${roleName(question.answer)}`;
}

function drawAnswered() {
  const line = $(SELECTORS.answered);
  const answered = state.answered;
  line.hidden = !answered;
  if (!answered) return;
  const actor = roleName(lesson.messages[answered.index].quiz.answer);
  line.dataset.right = String(answered.right);
  line.textContent = answered.right
    ? `Right: the ${actor.toLowerCase()} acts next.`
    : `Not quite: the ${actor.toLowerCase()} acts next (the class said ${answered.choice}).`;
}

function drawNotes() {
  const next = lesson.messages[state.position + 1];
  $(SELECTORS.notesNextArrow).textContent = next ? arrowText(next) : "— the last arrow —";
  $(SELECTORS.notesNext).textContent = next ? next.narration : "";
  $(SELECTORS.notesScore).textContent = `quiz: ${state.score.right} right · ${state.score.wrong} wrong`;
  $(SELECTORS.notesBlackout).hidden = !state.blackout;
}

// The tracker and the step table, redrawn only when they change: most steps change neither, or only which
// step is lit (then only the rows that were and are lit are written again). Says whether either changed.
function drawSide(message) {
  const tracker = trackerRows(message.tracker);
  const steps = stepRows(lesson, state.position);
  const keys = { tracker: JSON.stringify(tracker), steps: JSON.stringify([message.interaction, steps.rows.map((row) => row.state)]) };
  if (keys.tracker === sideKeys.tracker && keys.steps === sideKeys.steps) return false;
  if (keys.tracker !== sideKeys.tracker) drawTracker($(SELECTORS.tracker), tracker);
  drawSteps($(SELECTORS.steps), steps);
  sideKeys = keys;
  return true;
}

// Everything is written first, then measured once (the diagram's room, whether the steps fit), then the
// diagram is written: one layout a step, not one per measurement.
function draw() {
  if (!lesson) return;
  const message = lesson.messages[state.position];
  const body = document.body.dataset;
  body.position = String(state.position);
  body.playing = String(state.playing);
  body.blackout = String(state.blackout);
  const play = $(SELECTORS.play);
  play.textContent = state.playing ? "❚❚" : "▶";
  play.setAttribute("aria-label", state.playing ? "pause" : "play");
  $(SELECTORS.speed).value = String(state.speed);
  $(SELECTORS.ask).checked = state.ask;
  $(SELECTORS.position).textContent = `arrow ${state.position + 1} / ${lesson.count}`;
  $(SELECTORS.clock).textContent = `${clockTime(message.time_ns)} · ${elapsed(lesson, state.position)}`;
  $(SELECTORS.narration).textContent = message.narration;
  showArrowLine(message, false);
  drawQuiz();
  drawAnswered();
  const sideChanged = drawSide(message);
  if (address.presenter) drawNotes();
  else $(SELECTORS.blackout).hidden = !state.blackout;
  const area = $(SELECTORS.diagramArea);
  const room = area && { width: area.clientWidth, height: area.clientHeight };
  if (sideChanged) fitSteps($(SELECTORS.steps), $(SELECTORS.side));
  if (area) {
    body.first = String(drawWindow({
      svg: $(SELECTORS.diagram), header: $(SELECTORS.header), lesson, position: state.position, ...room, measure,
    }));
  }
}

open();
