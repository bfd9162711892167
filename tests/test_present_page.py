"""The present view (/present/) in Debian's Chromium, against `manage.py serve` whose store holds two recorded
lab commands (a `docker run` of a missing image, then a `docker pull`): sized for a projector, every key of
the players people know, the quiz, and the presenter's window driving the audience's. No daemon is needed:
the page replays what the store holds, through /api/present/.

Screenshots of each size and theme are kept in the test's tmp_path."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, dashboard_env, free_port, start_serve

SCENARIOS = ROOT / "tests" / "data" / "scenarios"
RECORDED = ("run-missing-image", "pull")
SIZES = [(1280, 720), (1024, 768)]
SMALLEST_TEXT_PX = 22
# Text against its background: WCAG's enhanced contrast (AAA) for normal text.
CONTRAST = 7.0


pytestmark = pytest.mark.browser

# Stores the recorded observations of the scenario files named on the command line, as the sources would.
STORE = """
import json, sys
import django
django.setup()
from archviz.observation import Observation, Source
from archviz.publish import publish
observations = []
for path in sys.argv[1:]:
    for line in open(path):
        if line.strip():
            o = json.loads(line)
            observations.append(Observation(
                time_ns=int(o["time_ns"]), source=Source(o["source"]), host=o["host"], kind=o["kind"],
                subject=o["subject"], attributes=o["attributes"], correlation=o["correlation"],
                key=f"{path}:{o['id']}"))
publish(observations)
"""


@dataclass
class Classroom:
    url: str
    query: str
    env: dict[str, str]

    def present(self, extra: str = "") -> str:
        return f"{self.url}/present/?{self.query}{extra}"


@pytest.fixture(scope="module")
def classroom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Classroom]:
    """`manage.py serve` with no daemon, its store holding the recorded commands."""
    data = tmp_path_factory.mktemp("present")
    env = {**dashboard_env(data, f"unix://{data}/no-daemon.sock"), "DJANGO_SETTINGS_MODULE": "dashboard.settings"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    files = [str(SCENARIOS / f"{name}.jsonl") for name in RECORDED]
    subprocess.run([sys.executable, "-c", STORE, *files], cwd=ROOT, env=env, check=True)
    times = [int(json.loads(line)["time_ns"]) for path in files for line in Path(path).read_text().splitlines()]
    since, until = min(times) // 10**9, max(times) // 10**9 + 1
    port = free_port()
    server = start_serve(port, env, "--no-watch")
    try:
        yield Classroom(f"http://127.0.0.1:{port}", f"since={since}&until={until}", env)
    finally:
        server.terminate()
        server.wait(timeout=15)


def open_page(chromium, url: str, width: int = 1280, height: int = 720):  # noqa: ANN001, ANN201 - Playwright
    page = chromium.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    assert errors == []
    return page


# The data's query of the page's address: without the view's own parameters.
API = """() => { const q = new URLSearchParams(location.search); q.delete("presenter"); q.delete("at");
  return fetch(`/api/present/?${q}`).then((r) => r.json()); }"""


def lesson(page) -> dict:  # noqa: ANN001
    """What /api/present/ told the page."""
    return page.evaluate(API)


def position(page) -> int:  # noqa: ANN001
    return int(page.evaluate("document.body.dataset.position"))


def drawn(page) -> list[str]:  # noqa: ANN001
    return page.eval_on_selector_all("#present-diagram g.message", "(groups) => groups.map((g) => g.dataset.id)")


# What a projector shows ------------------------------------------------------------------------------------

MEASURE = """() => {
  const viewport = { width: innerWidth, height: innerHeight };
  const problems = [];
  for (const text of document.querySelectorAll("#present-diagram text, #present-header text")) {
    const box = text.getBBox();
    const screen = text.getBoundingClientRect();
    const what = text.textContent;
    if (text.dataset.room) {
      const [left, right] = text.dataset.room.split(" ").map(Number);
      if (box.x < left - 1 || box.x + box.width > right + 1) {
        problems.push(`${what}: ${box.x}..${box.x + box.width} outside its room ${left}..${right}`);
      }
    }
    if (screen.left < 0 || screen.right > viewport.width || screen.top < 0 || screen.bottom > viewport.height) {
      problems.push(`${what}: off the screen at ${screen.left},${screen.top}..${screen.right},${screen.bottom}`);
    }
  }
  const sizes = [];
  for (const element of document.querySelectorAll("body *")) {
    const own = [...element.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    if (!own || element.closest("[hidden], dialog:not([open])") || element.getClientRects().length === 0) continue;
    sizes.push([parseFloat(getComputedStyle(element).fontSize), element.textContent.trim().slice(0, 40)]);
  }
  sizes.sort((a, b) => a[0] - b[0]);
  const root = document.documentElement;
  const overflowing = [...document.querySelectorAll("body, main, .present-side, .present-stage, .present-diagram")]
    .filter((e) => e.scrollHeight > e.clientHeight + 1 || e.scrollWidth > e.clientWidth + 1)
    .map((e) => e.className || e.tagName);
  const lanes = [...document.querySelectorAll("#present-diagram line.lifeline")]
    .map((l) => l.getBoundingClientRect().x);
  const area = document.querySelector("#present-diagram-area").getBoundingClientRect();
  return {
    problems, smallest: sizes[0], texts: sizes.length, overflowing,
    scroll: [root.scrollWidth - root.clientWidth, root.scrollHeight - root.clientHeight],
    spread: (Math.max(...lanes) - Math.min(...lanes)) / area.width,
    arrows: document.querySelectorAll("#present-diagram g.message").length,
    lanes: document.querySelectorAll("#present-header g.participant").length,
  };
}"""

# The contrast of each kind of text against the page's background, by WCAG's relative luminance.
CONTRASTS = """() => {
  const luminance = (color) => {
    const [r, g, b] = color.match(/[\\d.]+/g).slice(0, 3).map(Number).map((v) => v / 255)
      .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => {
    const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  const paper = getComputedStyle(document.body).backgroundColor;
  const of = (selector, property) => {
    const element = document.querySelector(selector);
    return element && getComputedStyle(element)[property];
  };
  const kinds = {
    narration: of("#present-narration", "color"), arrow: of("#present-arrow", "color"),
    label: of("#present-diagram g.message:not(.selected) text.label", "fill"), lane: of("#present-header text", "fill"),
    step: of("#present-steps td", "color"), tracker: of("#present-tracker td", "color"),
  };
  return Object.fromEntries(Object.entries(kinds).filter(([, c]) => c).map(([k, c]) => [k, ratio(c, paper)]));
}"""


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_every_frame_fits_a_projector_with_text_of_22_px_and_nothing_cut_or_scrolled(
    chromium, classroom: Classroom, width: int, height: int, tmp_path: Path,  # noqa: ANN001
) -> None:
    page = open_page(chromium, classroom.present("#i=0"), width, height)
    data = lesson(page)
    count = len(data["messages"])
    assert count >= 40
    for index in range(count):
        measured = page.evaluate(MEASURE)
        where = f"at arrow {index} ({width}×{height})"
        assert measured["problems"] == [], where
        assert measured["smallest"][0] >= SMALLEST_TEXT_PX, f"{measured['smallest']} {where}"
        assert measured["scroll"] == [0, 0] and measured["overflowing"] == [], where
        assert measured["spread"] > 0.75, f"the lanes use {measured['spread']:.0%} of the width {where}"
        assert measured["arrows"] >= min(index + 1, 4), where
        assert measured["lanes"] == len(data["participants"]), where
        assert drawn(page)[-1] == lesson_ids(page)[index]
        page.keyboard.press("ArrowRight")
    for theme in ("light", "dark"):
        if page.evaluate("document.documentElement.dataset.theme") != theme:
            page.click("#present-theme")
        page.keyboard.press("5")
        assert all(ratio >= CONTRAST for ratio in page.evaluate(CONTRASTS).values()), theme
        page.screenshot(path=tmp_path / f"present-{width}x{height}-{theme}.png")
    page.close()


def lesson_ids(page) -> list[str]:  # noqa: ANN001
    return page.evaluate(f"() => window.__ids ??= ({API})().then((l) => l.messages.map((m) => m.id))")


# The arrows on screen, in the order they are drawn: each one's id, where its row begins on screen, whether it is
# lit as the current one, and whether it is the very element that was on screen before the last key.
ON_SCREEN = """() => [...document.querySelectorAll("#present-diagram g.message")].map((g) => ({
  id: g.dataset.id, top: g.querySelector("rect.hit").getBoundingClientRect().top,
  lit: g.classList.contains("selected"), kept: (window.__shown || []).includes(g) }))"""
REMEMBER = "() => { window.__shown = [...document.querySelectorAll('#present-diagram g.message')]; }"


def test_a_step_draws_only_the_arrows_new_to_the_screen_and_moves_the_others(  # noqa: ANN001
    chromium, classroom: Classroom,
) -> None:
    page = open_page(chromium, classroom.present("#i=30"))
    ids = lesson_ids(page)
    for key, at in (("ArrowRight", 31), ("ArrowRight", 32), ("ArrowLeft", 31), ("Home", 0), ("End", len(ids) - 1)):
        before = {arrow["id"] for arrow in page.evaluate(ON_SCREEN)}
        page.evaluate(REMEMBER)
        page.keyboard.press(key)
        shown = page.evaluate(ON_SCREEN)
        first = ids.index(shown[0]["id"])
        assert [arrow["id"] for arrow in shown] == ids[first:at + 1], key
        assert [arrow["lit"] for arrow in shown] == [False] * (len(shown) - 1) + [True], key
        tops = [arrow["top"] for arrow in shown]
        assert tops == sorted(tops) and len(set(tops)) == len(tops), key
        # What was on screen before is moved, not drawn again.
        assert all(arrow["kept"] == (arrow["id"] in before) for arrow in shown), key
    assert len(shown) >= 4
    page.close()


# The side tables as shown: each step's row (which step, its state, whether it is hidden to fit, its text, and
# whether it is the very row that was there before the last key), then the tracker's rows.
SIDE = """() => ({
  steps: [...document.querySelectorAll("#present-steps tbody tr")].map((tr) =>
    [tr.dataset.step, tr.dataset.state, tr.hidden, tr.textContent, (window.__rows || []).includes(tr)]),
  tracker: [...document.querySelectorAll("#present-tracker tbody tr")].map((tr) => [tr.dataset.state, tr.textContent]),
})"""


def test_stepping_shows_the_side_tables_a_link_to_that_frame_shows_writing_only_what_changed(  # noqa: ANN001
    chromium, classroom: Classroom,
) -> None:
    page = open_page(chromium, classroom.present("#i=0"))
    count = len(lesson_ids(page))
    relit = 0
    for index in range(count):
        if index % 6 == 0:
            shown = page.evaluate(SIDE)
            linked = open_page(chromium, classroom.present(f"#i={index}"))
            fresh = linked.evaluate(SIDE)
            linked.close()
            assert [row[:4] for row in shown["steps"]] == [row[:4] for row in fresh["steps"]], index
            assert shown["tracker"] == fresh["tracker"], index
        before = {row[0]: row[1] for row in page.evaluate(SIDE)["steps"]}
        page.evaluate("() => { window.__rows = [...document.querySelectorAll('#present-steps tbody tr')]; }")
        page.keyboard.press("ArrowRight")
        steps = page.evaluate(SIDE)["steps"]
        # Within one command, a row is written again only when its state changed.
        if [row[0] for row in steps] == list(before):
            assert all(kept == (before[step] == state) for step, state, _, _, kept in steps), index
            relit += any(before[step] != state for step, state, _, _, _ in steps)
    assert relit >= 10
    page.close()


def test_a_cut_label_shows_whole_on_hover_and_on_focus(chromium, classroom: Classroom) -> None:  # noqa: ANN001
    page = open_page(chromium, classroom.present("#i=12"))
    cut = page.locator("#present-diagram g.message", has=page.locator("text.label", has_text="…")).first
    whole = cut.locator("title").text_content()
    cut.hover()
    assert whole in page.locator("#present-arrow").text_content()
    page.mouse.move(1, 1)
    page.keyboard.press("Tab")
    page.locator("#present-diagram g.message").first.focus()
    first_whole = page.locator("#present-diagram g.message").first.locator("title").text_content()
    assert first_whole.split(" · ")[0] in page.locator("#present-arrow").text_content()
    page.close()


# Replay and keys -------------------------------------------------------------------------------------------


def test_every_key_does_what_it_says_and_a_link_reopens_the_same_frame(chromium, classroom: Classroom) -> None:  # noqa: ANN001
    page = open_page(chromium, classroom.present())
    data = lesson(page)
    count = len(data["messages"])
    run, pull = data["interactions"]
    assert position(page) == 0

    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert position(page) == 2
    page.keyboard.press("ArrowLeft")
    assert position(page) == 1
    assert page.locator("#present-narration").text_content() == data["messages"][1]["narration"]
    assert page.locator("#present-position").text_content() == f"arrow 2 / {count}"
    page.keyboard.press("Shift+ArrowRight")
    assert position(page) == pull["first"]
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowLeft")
    assert position(page) == pull["first"]
    page.keyboard.press("Shift+ArrowLeft")
    assert position(page) == run["first"]
    page.keyboard.press("End")
    assert position(page) == count - 1
    page.keyboard.press("Home")
    assert position(page) == 0
    for digit in range(10):
        page.keyboard.press(str(digit))
        assert position(page) == digit * count // 10, digit

    page.keyboard.press("3")
    frame = (position(page), drawn(page), page.locator("#present-narration").text_content())
    page.wait_for_function(f"location.hash === '#i={frame[0]}'")
    again = open_page(chromium, page.url)
    assert (position(again), drawn(again), again.locator("#present-narration").text_content()) == frame
    again.close()
    at = open_page(chromium, classroom.present(f"&at={frame[0]}"))
    assert drawn(at) == frame[1]
    at.close()

    page.keyboard.press("b")
    cover = page.locator("#present-blackout")
    assert cover.is_visible() and cover.bounding_box() == {"x": 0, "y": 0, "width": 1280, "height": 720}
    page.keyboard.press("b")
    assert cover.is_hidden()

    page.keyboard.press("?")
    help_box = page.locator("#present-help")
    assert help_box.is_visible()
    listed = help_box.locator("dt").all_text_contents()
    assert listed == ["Space", "→", "←", "Shift + →", "Shift + ←", "Home", "End", "0 … 9", "f", "b", "?"]
    page.keyboard.press("Escape")
    assert help_box.is_hidden()

    page.keyboard.press("f")
    page.wait_for_function("document.fullscreenElement !== null")
    page.keyboard.press("f")
    page.wait_for_function("document.fullscreenElement === null")

    page.keyboard.press("Home")
    page.select_option("#present-speed", "4")
    page.keyboard.press(" ")
    assert page.evaluate("document.body.dataset.playing") == "true"
    page.wait_for_function("Number(document.body.dataset.position) >= 3", timeout=5_000)
    page.keyboard.press(" ")
    assert page.evaluate("document.body.dataset.playing") == "false"
    stopped = position(page)
    page.wait_for_timeout(400)
    assert position(page) == stopped
    page.close()


def test_playing_runs_to_the_end_at_the_chosen_speed_then_stops(chromium, classroom: Classroom) -> None:  # noqa: ANN001
    page = open_page(chromium, classroom.present())
    count = len(lesson(page)["messages"])
    page.keyboard.press("9")
    page.select_option("#present-speed", "4")
    started = page.evaluate("performance.now()")
    page.keyboard.press(" ")
    page.wait_for_function("document.body.dataset.playing === 'false'", timeout=20_000)
    took = page.evaluate("performance.now()") - started
    assert position(page) == count - 1
    steps = count - 1 - count * 9 // 10
    # At 4×, each arrow stays 0.1 s at least and 0.75 s at most.
    assert steps * 100 - 50 <= took <= steps * 750 + 500
    page.close()


# The quiz --------------------------------------------------------------------------------------------------


def test_with_the_quiz_on_the_page_asks_who_acts_next_and_the_answer_reveals_the_arrow(
    chromium, classroom: Classroom,  # noqa: ANN001
) -> None:
    page = open_page(chromium, classroom.present())
    messages = lesson(page)["messages"]
    asked = next(i for i, m in enumerate(messages) if m["quiz"] and i > 2)
    page.close()
    requests: list[str] = []
    page = chromium.new_page(viewport={"width": 1280, "height": 720})
    page.on("request", lambda request: requests.append(f"{request.method} {request.url}"))
    page.goto(classroom.present(f"#i={asked}"))
    page.wait_for_selector("body[data-ready=true]")
    page.check("#present-ask")
    page.keyboard.press("ArrowRight")
    quiz = page.locator("#present-quiz")
    assert quiz.is_visible() and position(page) == asked
    assert drawn(page)[-1] == messages[asked]["id"], "the arrow asked about is not drawn yet"
    question = messages[asked]["quiz"]
    assert quiz.locator(".quiz-question").text_content() == question["question"]
    choices = quiz.locator("button[data-choice]")
    assert 3 <= choices.count() <= 4
    assert quiz.locator(".quiz-answer").is_hidden(), "the audience is not told the answer"
    quiz.locator(".quiz-hint-button").click()
    assert quiz.locator(".quiz-hint").text_content() == question["hint"]
    wrong = next(c for c in question["choices"] if c != question["answer"])
    quiz.locator(f"button[data-choice={wrong}]").click()
    assert position(page) == asked + 1 and drawn(page)[-1] == messages[asked + 1]["id"]
    assert "Not quite" in page.locator("#present-answered").text_content()
    assert page.locator("#notes-score").count() == 0, "no counts on the audience's screen"
    assert not [r for r in requests if not r.startswith("GET ")], "nothing is sent to the server"
    page.close()


# The presenter's window ------------------------------------------------------------------------------------


def test_the_presenter_window_drives_the_audience_window(chromium, classroom: Classroom) -> None:  # noqa: ANN001
    context = chromium.new_context(viewport={"width": 1280, "height": 720})
    audience = context.new_page()
    audience.goto(classroom.present())
    audience.wait_for_selector("body[data-ready=true]")
    notes = audience.locator("#present-presenter")
    assert notes.get_attribute("href") == f"/present/?{classroom.query}&presenter=1"
    presenter = context.new_page()
    presenter.goto(classroom.url + notes.get_attribute("href"))
    presenter.wait_for_selector("body[data-ready=true]")
    messages = lesson(presenter)["messages"]
    audience.wait_for_function("document.body.dataset.driven === 'true'")

    def follows(index: int) -> None:
        audience.wait_for_function(f"document.body.dataset.position === '{index}'", timeout=3_000)

    presenter.keyboard.press("ArrowRight")
    presenter.keyboard.press("ArrowRight")
    follows(2)
    assert presenter.locator("#notes-next").text_content() == messages[3]["narration"]
    assert presenter.locator("#present-narration").text_content() == messages[2]["narration"]
    assert presenter.locator("#notes-next-arrow").text_content().endswith(messages[3]["label"])
    audience.keyboard.press("ArrowRight")
    presenter.wait_for_function("document.body.dataset.position === '3'")
    follows(3)

    presenter.keyboard.press("b")
    audience.wait_for_selector("#present-blackout:not([hidden])")
    assert presenter.locator("#notes-blackout").is_visible() and presenter.locator("#present-blackout").is_hidden()
    presenter.keyboard.press("b")
    audience.wait_for_selector("#present-blackout", state="hidden")

    presenter.keyboard.press(" ")
    audience.wait_for_function("document.body.dataset.playing === 'true'")
    presenter.keyboard.press(" ")
    audience.wait_for_function("document.body.dataset.playing === 'false'")

    asked = next(i for i, m in enumerate(messages) if m["quiz"] and i > 4)
    while position(presenter) < asked:
        presenter.keyboard.press("ArrowRight")
    presenter.check("#present-ask")
    follows(asked)
    presenter.keyboard.press("ArrowRight")
    audience.wait_for_selector("#present-quiz:not([hidden])")
    answer = messages[asked]["quiz"]["answer"]
    assert presenter.locator(".quiz-answer").text_content().lower().endswith(answer)
    presenter.locator(f"#present-quiz button[data-choice={answer}]").click()
    follows(asked + 1)
    audience.wait_for_selector("#present-answered:not([hidden])")
    assert "Right" in audience.locator("#present-answered").text_content()
    assert presenter.locator("#notes-score").text_content() == "quiz: 1 right · 0 wrong"
    assert audience.locator("#notes-score").count() == 0

    presenter.reload()
    presenter.wait_for_selector("body[data-ready=true]")
    assert presenter.locator("#notes-score").text_content() == "quiz: 1 right · 0 wrong", "kept for the session"
    context.close()


# Empty and error states ------------------------------------------------------------------------------------


def test_with_nothing_named_the_page_lists_the_sessions_and_explains_a_range(chromium, classroom: Classroom) -> None:  # noqa: ANN001
    page = open_page(chromium, f"{classroom.url}/present/")
    message = page.locator("#present-message")
    assert "Which session?" in message.text_content()
    assert "since and until" in message.text_content()
    sessions = page.evaluate("() => fetch('/api/sessions/').then((r) => r.json())")["sessions"]
    links = message.locator(".session-list a")
    assert links.count() == len(sessions) > 0
    links.first.click()
    page.wait_for_selector("body[data-state=ready]")
    assert page.locator("#present-title").text_content() == sessions[0]["title"]
    page.close()


@pytest.mark.parametrize(("query", "said"), [
    ("session=no-such-lesson", "no session named 'no-such-lesson'"),
    ("since=soon", "since='soon' is neither Unix seconds nor ISO 8601"),
])
def test_an_answer_the_page_cannot_show_is_said_with_the_servers_words(
    chromium, classroom: Classroom, query: str, said: str,  # noqa: ANN001
) -> None:
    page = open_page(chromium, f"{classroom.url}/present/?{query}")
    assert said in page.locator("#present-message .error-text").text_content()
    page.close()


# Saved sessions, from the presenter's window -----------------------------------------------------------------

STAFF = """
import django
django.setup()
from django.contrib.auth.models import User
User.objects.create_user("teacher", password="chalk-and-talk", is_staff=True)
"""


def test_a_teacher_keeps_the_range_as_a_session_exports_it_and_imports_it_back(  # noqa: ANN001
    chromium, classroom: Classroom, tmp_path: Path,
) -> None:
    subprocess.run([sys.executable, "-c", STAFF], cwd=ROOT, env=classroom.env, check=True)
    page = open_page(chromium, classroom.present("&presenter=1"))
    page.locator("#present-sessions summary").click()
    assert "Log in as a staff user" in page.locator("#present-sessions").text_content()
    page.goto(f"{classroom.url}/login/?next=/present/%3F{classroom.query.replace('&', '%26')}%26presenter%3D1")
    page.fill("#id_username", "teacher")
    page.fill("#id_password", "chalk-and-talk")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("body[data-ready=true]")
    page.locator("#present-sessions summary").click()
    page.fill("#session-keep input[name=name]", "run-then-pull")
    page.fill("#session-keep input[name=title]", "a run, then a pull")
    page.click("#session-keep button")
    page.wait_for_url("**/present/?session=run-then-pull&presenter=1")
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("#present-title").text_content() == "a run, then a pull"

    page.locator("#present-sessions summary").click()
    with page.expect_download() as download:
        page.click("#session-export")
    exported = tmp_path / "run-then-pull.json"
    download.value.save_as(exported)
    assert json.loads(exported.read_text())["name"] == "run-then-pull"

    page.set_input_files("#session-import input[type=file]", str(exported))
    page.click("#session-import button")
    page.locator("#session-error").wait_for(state="visible")
    assert "exists already" in page.locator("#session-error").text_content()
    renamed = tmp_path / "copy.json"
    renamed.write_text(exported.read_text().replace('"name": "run-then-pull"', '"name": "run-then-pull-copy"'))
    page.set_input_files("#session-import input[type=file]", str(renamed))
    page.click("#session-import button")
    page.wait_for_url("**/present/?session=run-then-pull-copy&presenter=1")
    page.wait_for_selector("body[data-ready=true]")
    assert page.evaluate(API)["messages"] == lesson(page)["messages"]
    original = page.evaluate("() => fetch('/api/present/?session=run-then-pull').then((r) => r.json())")
    assert lesson(page)["messages"] == original["messages"]
    page.close()
