// The present view's logic, pure: the lesson read from /api/present/, the replay's position and timing,
// the keys and what they do, the window of arrows that fits the screen, the step table, the tracker and
// the quiz. No DOM, no timers, no storage: present.js holds the state, runs the clock and draws.
//
// The server decides everything a class is told (narration, steps, tracker, quiz); this module only
// moves through it.

export const SPEEDS = [0.5, 1, 2, 4];
// While playing at 1×, an arrow stays as long as it took in the recording, but at least MIN_GAP_MS (the
// lab's arrows are milliseconds apart, and a class must see each one) and at most MAX_GAP_MS (so that a
// long pause in the recording does not stall the lesson). Other speeds divide these.
export const MIN_GAP_MS = 400;
export const MAX_GAP_MS = 3000;
// What the presenter window and the audience window share (the rest is each window's own).
export const SHARED = ["position", "playing", "speed", "ask", "quiz", "answered", "blackout"];
// Parameters that are the view's own, not the data's: left out of the /api/present/ query (views.present
// splits the address the same way for the request it names in the page's head).
const VIEW_KEYS = ["presenter", "at"];

// The address ------------------------------------------------------------------------------------

// What the page was opened with: the data's query (for /api/present/), the position (`#i=17` before
// `?at=17`) and whether this is the presenter's window.
export function readAddress(search, hash) {
  const params = new URLSearchParams(search);
  const query = new URLSearchParams();
  for (const [key, value] of params) if (!VIEW_KEYS.includes(key)) query.append(key, value);
  const hashed = /^#i=(\d+)$/.exec(hash || "");
  const at = hashed ? hashed[1] : params.get("at");
  return {
    query: query.toString(),
    position: at !== null && /^\d+$/.test(at) ? Number(at) : null,
    presenter: params.get("presenter") === "1",
  };
}

export function positionHash(position) {
  return `#i=${position}`;
}

// The lesson: /api/present/'s answer, with what moving through it needs worked out once ------------------

export function readLesson(payload) {
  const messages = payload.messages;
  const starts = payload.interactions.map((interaction) => interaction.first).filter(Number.isInteger).sort((a, b) => a - b);
  let origin = null;
  for (const message of messages) {
    const time = BigInt(message.time_ns);
    if (origin === null || time < origin) origin = time;
  }
  return {
    session: payload.session,
    participants: payload.participants,
    lanes: payload.participants.map((participant) => participant.id),
    interactions: payload.interactions,
    byId: new Map(payload.interactions.map((interaction) => [interaction.id, interaction])),
    messages,
    count: messages.length,
    starts,
    origin,
  };
}

// Seconds since the session's first arrow, as "+1.234 s".
export function elapsed(lesson, position) {
  const message = lesson.messages[position];
  if (!message) return "";
  const ms = Number((BigInt(message.time_ns) - lesson.origin) / 1000000n);
  return `+${(ms / 1000).toFixed(3)} s`;
}

// The replay ----------------------------------------------------------------------------------------

export function initialState(lesson, position = null) {
  return {
    position: clamp(position ?? 0, lesson.count),
    playing: false,
    speed: 1,
    ask: false,
    quiz: null,
    answered: null,
    blackout: false,
    score: { right: 0, wrong: 0 },
  };
}

function clamp(position, count) {
  return Math.max(0, Math.min(position, count - 1));
}

// Milliseconds to wait, while playing, before the arrow after `position`; null at the last arrow.
export function delayMs(lesson, position, speed) {
  const here = lesson.messages[position];
  const next = lesson.messages[position + 1];
  if (!here || !next) return null;
  const gap = Number(BigInt(next.time_ns) - BigInt(here.time_ns)) / 1e6;
  return Math.min(Math.max(gap, MIN_GAP_MS), MAX_GAP_MS) / speed;
}

function moveTo(state, position, lesson) {
  const next = clamp(position, lesson.count);
  return { ...state, position: next, quiz: null, answered: null, playing: state.playing && next < lesson.count - 1 };
}

// The question before the arrow after `state.position`, when the quiz is on and the lesson has one there.
function questionDue(state, lesson) {
  return state.ask && !state.playing && state.position < lesson.count - 1 && Boolean(lesson.messages[state.position].quiz);
}

// Answering (or, with `choice` null, stepping past the question) reveals the arrow it asked about.
function reveal(state, lesson, choice) {
  const { index } = state.quiz;
  const moved = moveTo(state, index + 1, lesson);
  if (choice === null) return moved;
  const right = choice === lesson.messages[index].quiz.answer;
  const score = { ...state.score, [right ? "right" : "wrong"]: state.score[right ? "right" : "wrong"] + 1 };
  return { ...moved, answered: { index, choice, right }, score };
}

// The command box starts after (or, backwards, before) `position`.
function nextStart(lesson, position) {
  return lesson.starts.find((start) => start > position);
}

function previousStart(lesson, position) {
  return lesson.starts.findLast((start) => start < position);
}

const REDUCERS = {
  "toggle-play": (state, action, lesson) => (state.playing ? REDUCERS.pause(state) : REDUCERS.play(state, action, lesson)),
  play: (state, action, lesson) => {
    if (lesson.count < 2) return state;
    const from = state.position >= lesson.count - 1 ? moveTo(state, 0, lesson) : state;
    return { ...from, playing: true, quiz: null };
  },
  pause: (state) => ({ ...state, playing: false }),
  tick: (state, action, lesson) => (state.playing ? moveTo(state, state.position + 1, lesson) : state),
  next: (state, action, lesson) => {
    if (state.quiz) return reveal(state, lesson, null);
    if (questionDue(state, lesson)) return { ...state, quiz: { index: state.position, hint: false }, answered: null };
    return moveTo(state, state.position + 1, lesson);
  },
  previous: (state, action, lesson) => moveTo(state, state.position - 1, lesson),
  "next-command": (state, action, lesson) => moveTo(state, nextStart(lesson, state.position) ?? state.position, lesson),
  "previous-command": (state, action, lesson) => moveTo(state, previousStart(lesson, state.position) ?? 0, lesson),
  first: (state, action, lesson) => moveTo(state, 0, lesson),
  last: (state, action, lesson) => moveTo(state, lesson.count - 1, lesson),
  jump: (state, action, lesson) => moveTo(state, Math.floor(action.fraction * lesson.count), lesson),
  goto: (state, action, lesson) => moveTo(state, action.position, lesson),
  speed: (state, action) => (SPEEDS.includes(action.speed) ? { ...state, speed: action.speed } : state),
  "toggle-ask": (state) => ({ ...state, ask: !state.ask, quiz: state.ask ? null : state.quiz }),
  hint: (state) => (state.quiz ? { ...state, quiz: { ...state.quiz, hint: true } } : state),
  answer: (state, action, lesson) => (state.quiz ? reveal(state, lesson, action.choice) : state),
  blackout: (state) => ({ ...state, blackout: !state.blackout }),
  // The presenter's window says where the lesson is: the audience's window takes it as it is.
  sync: (state, action, lesson) => ({ ...state, ...shared(action.shared), position: clamp(action.shared.position, lesson.count) }),
};

// The state after `action` ({type, …}); an action this module does not know (full screen, the help: each
// window's own business) leaves it as it was.
export function reduce(state, action, lesson) {
  const reducer = REDUCERS[action.type];
  return reducer && lesson.count > 0 ? reducer(state, action, lesson) : state;
}

export function shared(state) {
  return Object.fromEntries(SHARED.map((key) => [key, state[key]]));
}

// Keys, as in the players people know. One table: the key handler and the help overlay both read it. ---------

export const KEYS = [
  { key: " ", name: "Space", action: { type: "toggle-play" }, says: "play / pause" },
  { key: "ArrowRight", shift: false, name: "→", action: { type: "next" }, says: "next arrow (with the quiz on, asks first)" },
  { key: "ArrowLeft", shift: false, name: "←", action: { type: "previous" }, says: "previous arrow" },
  { key: "ArrowRight", shift: true, name: "Shift + →", action: { type: "next-command" }, says: "next command box" },
  { key: "ArrowLeft", shift: true, name: "Shift + ←", action: { type: "previous-command" }, says: "start of this command box, or the one before" },
  { key: "Home", name: "Home", action: { type: "first" }, says: "first arrow" },
  { key: "End", name: "End", action: { type: "last" }, says: "last arrow" },
  ...Array.from({ length: 10 }, (_, digit) => ({
    key: String(digit),
    action: { type: "jump", fraction: digit / 10 },
    ...(digit === 0 ? { name: "0 … 9", says: "jump to 0 %, 10 %, … 90 %" } : {}),
  })),
  { key: "f", name: "f", action: { type: "fullscreen" }, says: "full screen on / off" },
  { key: "b", name: "b", action: { type: "blackout" }, says: "black screen on / off" },
  { key: "?", name: "?", action: { type: "help" }, says: "this help" },
];

export function actionFor({ key, shiftKey = false }) {
  const row = KEYS.find((entry) => entry.key === key && (entry.shift === undefined || entry.shift === shiftKey));
  return row ? row.action : null;
}

export const HELP = KEYS.filter((entry) => entry.says).map((entry) => [entry.name, entry.says]);

// The window of arrows on screen -----------------------------------------------------------------------

// The first arrow of the window that ends at `position` and fits `room` pixels. `height(i)` is arrow
// i's row; an arrow that opens a command box in the window (the window's top arrow always does) also
// carries the box's `title`, and one that opens an alt block its `alt` label. A command interleaved with
// another counts as opening again, so the estimate is never too small.
export function windowStart(messages, position, room, { height, title, alt }) {
  if (position <= 0) return 0;
  const opens = (index, first) => {
    const message = messages[index];
    const before = index === first ? null : messages[index - 1];
    return (message.interaction !== null && (!before || before.interaction !== message.interaction) ? title : 0)
      + (message.block !== null && (!before || before.block !== message.block) ? alt : 0);
  };
  let first = position;
  let below = 0;
  while (first > 0) {
    const candidate = first - 1;
    const moved = below + height(first) + opens(first, candidate);
    if (moved + height(candidate) + opens(candidate, candidate) > room) break;
    below = moved;
    first = candidate;
  }
  return first;
}

// The step table and the tracker -------------------------------------------------------------------------

// The current command's process steps, each done, current or to come.
export function stepRows(lesson, position) {
  const message = lesson.messages[position];
  const interaction = message && message.interaction !== null ? lesson.byId.get(message.interaction) : null;
  if (!interaction) return { title: "", rows: [] };
  const current = message.step;
  const rows = (interaction.steps || []).map((step) => ({
    ...step,
    state: current === null || current === undefined ? "next" : step.number < current ? "done" : step.number === current ? "current" : "next",
  }));
  return { title: interaction.title, rows };
}

const IMAGE_STATES = { empty: "Empty", partial: "Partial", complete: "Complete", failed: "Failed" };

// The lessons' status tracker after the current arrow, as rows: what, its state, the server's text, what
// it is about (the image's reference, the container's name), and for an image whose layer count is known,
// the share of its layers stored.
export function trackerRows(tracker) {
  const image = tracker && tracker.image;
  const container = tracker && tracker.container;
  return [
    { what: "command", state: tracker && tracker.command ? "set" : "none", text: (tracker && tracker.command) || "—", about: "" },
    {
      what: "image",
      state: image ? image.state : "none",
      text: image ? image.text || IMAGE_STATES[image.state] : "—",
      about: image ? image.reference : "",
      fraction: image && image.layers_total ? image.layers_done / image.layers_total : null,
    },
    {
      what: "container",
      state: container ? container.state : "none",
      text: container ? container.text : "—",
      about: container ? container.name : "",
    },
  ];
}
