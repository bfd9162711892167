"""The present view with a 5,000-arrow session, in Chromium: how long until it is interactive, and what one
step costs.

Stores 152 copies of a recorded `docker run` of a missing image (tests/data/scenarios/run-missing-image.jsonl,
each copy a second later, with its own spans and process) — 4,408 observations, 5,016 arrows — in a fresh
database, serves it with `manage.py serve` (no daemon needed) and opens `/present/?since=…&until=…` three times,
then prints
- open: from navigation to the first frame drawn with the keys working (the page's `present-ready` mark), and
  how much of it /api/present/ took (the server maps, narrates and tracks all 5,000 arrows);
- step: one → press (the page's key handler, the new frame's DOM and a forced layout), over 300 steps from
  the start, the middle and the end (median, p95, max).
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
DATA = Path(tempfile.mkdtemp(prefix="avbench-present-"))
os.environ["ARCHVIZ_DATA_DIR"] = str(DATA)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from archviz.observation import Observation, Source  # noqa: E402
from archviz.publish import publish  # noqa: E402
from tests.conftest import CHROMIUM_ARGS, dashboard_env, free_port, start_serve  # noqa: E402

RECORDING = ROOT / "tests" / "data" / "scenarios" / "run-missing-image.jsonl"
COPIES = 152
OPENS = 3
STEPS = 100

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


def main() -> None:
    call_command("migrate", verbosity=0)
    stored = publish(copies())
    since, until = stored[0].time_ns // 10**9, stored[-1].time_ns // 10**9 + 1
    env = dashboard_env(DATA, f"unix://{DATA}/no-daemon.sock")
    port = free_port()
    server = start_serve(port, env, "--no-watch")
    url = f"http://127.0.0.1:{port}/present/?since={since}&until={until}"
    opens, api, steps = [], [], []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for _ in range(OPENS):
                page = browser.new_page(viewport={"width": 1280, "height": 720})
                page.goto(url)
                page.wait_for_selector("body[data-ready=true]", timeout=60_000)
                arrows = page.evaluate("document.querySelector('#present-position').textContent")
                opens.append(page.evaluate("performance.getEntriesByName('present-ready')[0].startTime"))
                api.append(page.evaluate("""() => performance.getEntriesByType("resource")
                    .filter((e) => e.name.includes("/api/present/")).map((e) => e.responseEnd - e.startTime)[0]"""))
                for key in ("Home", "5", "9"):
                    page.keyboard.press(key)
                    steps.extend(page.evaluate(STEP, STEPS))
                page.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=15)
    print(f"session: {len(stored)} observations, {arrows.split('/ ')[1]} arrows, at 1280×720")
    print(f"open (navigation to first frame with keys working), {OPENS} times: "
          + ", ".join(f"{value:.0f}" for value in opens) + f" ms; median {statistics.median(opens):.0f} ms")
    print(f"  of which /api/present/ (request to last byte): median {statistics.median(api):.0f} ms")
    print(f"step (→, new frame, forced layout), {len(steps)} steps: median {statistics.median(steps):.2f} ms, "
          f"p95 {percentile(steps, 0.95):.2f} ms, max {max(steps):.2f} ms")
    print("targets: interactive <= 1000 ms; a step <= 16 ms")


if __name__ == "__main__":
    main()
