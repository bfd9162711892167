"""Sequence diagram rendering in Chromium: appending to a diagram that already holds 10,000 Messages.

Opens the live page of `manage.py serve` (no daemon needed), builds a diagram of 10,000 Messages shaped
like `docker run`s with the page's own modules, then measures
- the append cost: applySequence + the view's update + a forced layout, per Message (median, p95); the
  view draws new rows once per frame, so that work shows in the frame rate, not here;
- the frame rate while following: Messages arrive 30 (then 200) a second for 5 s and the view scrolls
  with them.
Run: .venv/bin/python bench/sequence_render.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

import django  # noqa: E402

django.setup()

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.conftest import CHROMIUM_ARGS, dashboard_env, free_port, start_serve  # noqa: E402

MEASURE = (Path(__file__).parent / "sequence_render.js").read_text()


def main() -> None:
    data = Path(tempfile.mkdtemp(prefix="avbench-render-"))
    env = dashboard_env(data, f"unix://{data}/no-daemon.sock")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    server = start_serve(port, env, "--no-watch")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("#link-state[data-state=live]")
            result = page.evaluate(MEASURE, {"existing": 10_000, "appends": 300, "rate": 30, "seconds": 5})
            page.reload()
            page.wait_for_selector("#link-state[data-state=live]")
            burst = page.evaluate(MEASURE, {"existing": 10_000, "appends": 10, "rate": 200, "seconds": 5})
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=15)
    print(f"diagram: {result['messages']} messages, {result['inDom']} of them in the DOM")
    print(f"append cost ms (300 appends onto 10,000): median {result['median']:.3f}  p95 {result['p95']:.3f}")
    print(f"while following at 30 messages/s for 5 s: {result['fps']:.1f} fps, longest frame "
          f"{result['longestFrame']:.1f} ms")
    print(f"while following at 200 messages/s for 5 s: {burst['fps']:.1f} fps, longest frame "
          f"{burst['longestFrame']:.1f} ms")
    print("targets: median append <= 2 ms, >= 50 fps (Chromium's timer resolution here is 0.1 ms)")


if __name__ == "__main__":
    main()
