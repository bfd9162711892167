"""The present view with a 5,000-arrow session, in Chromium: how long until it is interactive, and what one
step costs.

Stores 152 copies of a recorded `docker run` of a missing image (tests/data/scenarios/run-missing-image.jsonl,
each copy a second later, with its own spans and process) — 4,408 observations, 5,320 arrows — in a fresh
database and serves it with `manage.py serve` (no daemon needed). Then it opens `/present/` at 1280×720:
- a range of the store (`?since=…&until=…`) three times: the first open is cold (the server maps, narrates and
  tracks all 5,000 arrows), the next two are served the answer it kept;
- a session imported as `manage.py session import` does (in another process than the server's): its first open
  (cold) and one more;
- a session kept from the presenter's page (its "keep this range" button, as a staff user): the audience's first
  open of it, which the keeping has prepared;
and prints, for each, from navigation to the first frame drawn with the keys working (the page's
`present-ready` mark) and how much of it /api/present/ took. Then the step: one → press (the page's key handler,
the new frame's DOM and a forced layout), 100 steps from the start, the middle and the end of the session, in
each of three fresh pages (median, p95, max), and the load average before and after.
Targets (issue 13): interactive in <= 1 s; a step <= 16 ms (one frame).
Run: .venv/bin/python bench/present.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
DATA = Path(tempfile.mkdtemp(prefix="avbench-present-"))
os.environ["ARCHVIZ_DATA_DIR"] = str(DATA)

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from archviz.classroom import sessions  # noqa: E402
from archviz.models import StoredObservation  # noqa: E402
from archviz.observation import Observation, Source  # noqa: E402
from archviz.publish import publish  # noqa: E402
from tests.conftest import CHROMIUM_ARGS, dashboard_env, free_port, start_serve  # noqa: E402

RECORDING = ROOT / "tests" / "data" / "scenarios" / "run-missing-image.jsonl"
COPIES = 152
OPENS = 3
STEPS = 100

READY = "performance.getEntriesByName('present-ready')[0].startTime"
API = """() => performance.getEntriesByType("resource")
    .filter((e) => e.name.includes("/api/present/")).map((e) => e.responseEnd - e.startTime)[0]"""
# One → press at a time, each with its frame's layout forced: the cost of a step, in ms.
STEP = """(steps) => {
  const costs = [];
  const from = Number(document.body.dataset.position);
  for (let i = 0; i < steps; i += 1) {
    const start = performance.now();
    document.body.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowRight", bubbles: true }));
    document.body.getBoundingClientRect();
    costs.push(performance.now() - start);
  }
  if (Number(document.body.dataset.position) !== from + steps) throw new Error("the steps did not all move");
  return costs;
}"""


def copies() -> list[Observation]:
    """The recording again and again, a second apart, each copy with its own spans and client process."""
    rows = [json.loads(line) for line in RECORDING.read_text().splitlines() if line.strip()]
    observations = []
    for copy in range(COPIES):
        for row in rows:
            attributes = dict(row["attributes"])
            if "span" in attributes:
                attributes["span"] = f"{copy}.{attributes['span']}"
            if "pid" in attributes:
                attributes["pid"] += copy
            observations.append(Observation(
                time_ns=int(row["time_ns"]) + copy * 10**9, source=Source(row["source"]), host=row["host"],
                kind=row["kind"], subject=row["subject"], attributes=attributes,
                correlation=f"{copy}:{row['correlation']}", key=f"bench-{copy}-{row['id']}"))
    return observations


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def open_page(browser: Browser, url: str) -> tuple[Page, float, float]:
    """A fresh page at `url`, once its first frame is drawn; ms to that frame and of it /api/present/'s."""
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    return page, page.evaluate(READY), page.evaluate(API)


def keep_from_the_page(browser: Browser, base: str, query: str, name: str) -> None:
    """Log in as a staff user and keep the range as a session with the presenter's button, as a teacher does."""
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{base}/login/?next={quote(f'/present/?{query}&presenter=1')}")
    page.fill("#id_username", "bench")
    page.fill("#id_password", "bench-password")
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    page.locator("#present-sessions summary").click()
    page.fill("#session-keep input[name=name]", name)
    page.click("#session-keep button")
    page.wait_for_url(f"**/present/?session={name}&presenter=1", timeout=60_000)
    page.close()


def main() -> None:
    load_before = os.getloadavg()
    call_command("migrate", verbosity=0)
    stored = publish(copies())
    since, until = stored[0].time_ns // 10**9, stored[-1].time_ns // 10**9 + 1
    query = f"since={since}&until={until}"
    observations = [{**row.to_wire(), "id": number}
                    for number, row in enumerate(StoredObservation.objects.order_by("id"), 1)]
    User.objects.create_user("bench", password="bench-password", is_staff=True)
    # As `manage.py session import` keeps it: in another process than the server's, which has not mapped it.
    sessions.store(sessions.SessionFile("imported", "imported", stored[0].time_ns, stored[-1].time_ns, observations))
    env = dashboard_env(DATA, f"unix://{DATA}/no-daemon.sock")
    port = free_port()
    server = start_serve(port, env, "--no-watch")
    base = f"http://127.0.0.1:{port}"
    opens: dict[str, list[tuple[float, float]]] = {}
    steps: list[float] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for _ in range(OPENS):
                page, ready, api = open_page(browser, f"{base}/present/?{query}")
                arrows = page.evaluate("document.querySelector('#present-position').textContent")
                opens.setdefault("range", []).append((ready, api))
                page.close()
            for _ in range(2):
                page, ready, api = open_page(browser, f"{base}/present/?session=imported")
                opens.setdefault("imported", []).append((ready, api))
                page.close()
            keep_from_the_page(browser, base, query, "kept")
            for _ in range(OPENS):
                page, ready, api = open_page(browser, f"{base}/present/?session=kept")
                opens.setdefault("kept", []).append((ready, api))
                for key in ("Home", "5", "9"):
                    page.keyboard.press(key)
                    steps.extend(page.evaluate(STEP, STEPS))
                page.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=15)
    print(f"session: {len(stored)} observations, {arrows.split('/ ')[1]} arrows, at 1280×720")
    print("open, from navigation to the first frame with keys working (of which /api/present/, request to last byte):")
    for name, said in (("range", "a range of the store, the first open then again"),
                       ("imported", "a session imported by another process, its first open then again"),
                       ("kept", "a session kept from the page: the audience's first open, then again")):
        print(f"  {said}: " + ", ".join(f"{ready:.0f} ms ({api:.0f})" for ready, api in opens[name]))
    print(f"step (→, new frame, forced layout), {len(steps)} steps: median {statistics.median(steps):.2f} ms, "
          f"p95 {percentile(steps, 0.95):.2f} ms, max {max(steps):.2f} ms")
    print("load average before: " + " ".join(f"{value:.2f}" for value in load_before)
          + ", after: " + " ".join(f"{value:.2f}" for value in os.getloadavg()))
    print("targets: interactive <= 1000 ms; a step <= 16 ms")


if __name__ == "__main__":
    main()
