"""Event-to-browser latency: from the daemon's timeNano to the moment the row is in the page's DOM.

Starts its own lab and `manage.py serve`, opens the live page in Debian's Chromium, runs containers in
the lab one after another, and prints percentiles over every daemon event they cause (at least 200).
Run: .venv/bin/python bench/latency.py [--containers N]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

import django  # noqa: E402

django.setup()

from playwright.sync_api import CDPSession, sync_playwright  # noqa: E402

from archviz.lab import Lab  # noqa: E402
from tests.conftest import CHROMIUM_ARGS, dashboard_env, free_port, run_container, start_serve  # noqa: E402

# Stamp each row when it enters the DOM, on the page's wall clock (timeOrigin + a monotonic offset).
STAMP_ROWS = """
window.__rendered = [];
new MutationObserver((mutations) => {
  const now = performance.timeOrigin + performance.now();
  for (const mutation of mutations) for (const node of mutation.addedNodes) {
    if (node.dataset && node.dataset.timeNs) window.__rendered.push([node.dataset.timeNs, node.dataset.kind, now]);
  }
}).observe(document, {childList: true, subtree: true});
"""


def page_metrics(cdp: CDPSession) -> dict[str, float]:
    return {metric["name"]: metric["value"] for metric in cdp.send("Performance.getMetrics")["metrics"]}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def published_ms(database: Path, since_ns: int) -> dict[int, float]:
    """When the publication carrying each daemon event (by its time_ns) was made, in ms since the epoch."""
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT o.time_ns, p.published_ns FROM archviz_observation o JOIN archviz_publication p"
            " ON o.id BETWEEN p.first_observation AND p.last_observation WHERE o.time_ns >= ?", [since_ns])
        return {time_ns: published_ns / 1e6 for time_ns, published_ns in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=50, help="containers to run (each makes ~6 events)")
    args = parser.parse_args()

    lab = Lab(Path(tempfile.mkdtemp(prefix="avbench-", dir="/tmp")), registry_port=free_port(),
              auth_registry_port=free_port())
    data = Path(tempfile.mkdtemp(prefix="avbench-data-"))
    lab.up(say=lambda line: None)
    server = None
    try:
        env = dashboard_env(data, lab.docker_host)

        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        port = free_port()
        server = start_serve(port, env)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.add_init_script(STAMP_ROWS)
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("#link-state[data-state=live]")
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            before = page_metrics(cdp)
            started_ns = time.time_ns()
            for number in range(args.containers):
                run_container(lab, f"bench-{number}")
            page.wait_for_timeout(1000)
            after = page_metrics(cdp)
            rendered = page.evaluate("window.__rendered")
            browser.close()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=15)
        lab.down(say=lambda line: None)

    events = [(int(time_ns), now_ms) for time_ns, kind, now_ms in rendered
              if int(time_ns) >= started_ns and not kind.startswith("watcher-")]
    latencies = [now_ms - time_ns / 1e6 for time_ns, now_ms in events]
    published = published_ms(data / "archviz.sqlite3", started_ns)
    # The split: daemon -> publication made (watcher, store, fold) and publication -> DOM (channel, socket, page).
    server = [published[time_ns] - time_ns / 1e6 for time_ns, _ in events if time_ns in published]
    delivery = [now_ms - published[time_ns] for time_ns, now_ms in events if time_ns in published]
    print(f"events: {len(latencies)} (from {args.containers} containers)")
    print(f"event-to-DOM latency ms: p50 {percentile(latencies, 0.50):.1f}  p95 {percentile(latencies, 0.95):.1f}  "
          f"p99 {percentile(latencies, 0.99):.1f}  max {max(latencies):.1f}  mean {statistics.fmean(latencies):.1f}")
    print("targets: p50 <= 10 ms, p99 <= 50 ms")
    for name, values in (("daemon -> published", server), ("published -> DOM", delivery)):
        print(f"  {name} ms: p50 {percentile(values, 0.50):.1f}  p95 {percentile(values, 0.95):.1f}  "
              f"p99 {percentile(values, 0.99):.1f}")
    # Where the page's main thread went meanwhile (a busy page delays the next frame's arrival too).
    print("page main thread: " + ", ".join(f"{name} {after[name] - before[name]:.2f} s" for name in
                                            ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration"))
          + f", layouts {after['LayoutCount'] - before['LayoutCount']:.0f}")


if __name__ == "__main__":
    main()
