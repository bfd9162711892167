"""The registry audit page in Debian's Chromium, against `manage.py serve`: notifications POSTed to
/hooks/registry/ (and Harbor's to /hooks/harbor/) appear without a reload, the tail pauses and counts what waits,
and the charts (uPlot, served by the dashboard) follow, readable at 1280×720 and reachable from the keyboard, with
their numbers in tables."""

from __future__ import annotations

import copy
import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import webhook_dashboard

pytestmark = pytest.mark.browser
TOKEN = "page-token"
DATA = Path(__file__).parent / "data" / "registry"
V3_SESSION = [json.loads(delivery["body"]) for delivery in json.loads((DATA / "v3_session.json").read_text())]
HARBOR_PAYLOADS = json.loads((DATA.parent / "harbor" / "default_format.json").read_text())
HARBOR_AUTH = "Bearer harbor-page-token"
ROWS = "table.audit-table tbody tr"


@pytest.fixture
def dashboard_url(tmp_path: Path) -> Iterator[str]:
    with webhook_dashboard(tmp_path, TOKEN) as url:
        yield url


def notify(url: str, *events: dict) -> None:
    """POST each event on its own, as distribution 3 does."""
    for event in events:
        request = urllib.request.Request(f"{url}/hooks/registry/", data=json.dumps({"events": [event]}).encode(),
                                         headers={"Authorization": f"Bearer {TOKEN}",
                                                  "Content-Type": "application/vnd.docker.distribution.events.v2+json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200


def pushed(repository: str, actor: str) -> dict:
    """A blob push by `actor` into `repository`, happening now (from what registry-v3 sent)."""
    event = copy.deepcopy(V3_SESSION[0]["events"][0])
    event["id"] = str(uuid.uuid4())
    event["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())
    event["target"]["repository"] = repository
    event["actor"] = {"name": actor}
    return event


def opened(chromium, url: str, width: int = 1280, height: int = 720):  # noqa: ANN001, ANN201 - Playwright
    page = chromium.new_page(viewport={"width": width, "height": height})
    page.goto(url)
    page.wait_for_selector("#link-state[data-state=live]")
    return page


def numbers(page, chart: str) -> list[list[str]]:  # noqa: ANN001 - a Playwright page
    return page.eval_on_selector_all(
        f'.audit-chart[data-chart="{chart}"] .chart-numbers tbody tr',
        "rows => rows.map(row => [...row.cells].map(cell => cell.textContent))")


def wait_for_numbers(page, chart: str, rows: int) -> None:  # noqa: ANN001 - a Playwright page
    page.wait_for_function("([chart, rows]) => document.querySelectorAll("
                           "`.audit-chart[data-chart=\"${chart}\"] .chart-numbers tbody tr`).length === rows",
                           arg=[chart, rows])


def test_an_empty_audit_says_what_to_do_then_new_events_appear_without_reload_with_their_charts(
        chromium, dashboard_url: str) -> None:
    page = opened(chromium, f"{dashboard_url}/registry/")
    assert page.locator(".charts-empty").is_visible()
    assert "Push or pull through a registry that notifies this dashboard" in page.inner_text(".charts-empty")
    assert page.locator(".audit .empty").is_visible() and not page.locator("table.audit-table").is_visible()

    notify(dashboard_url, pushed("team/web", "alice"))
    page.wait_for_selector(f"{ROWS}:has-text('team/web')")
    assert page.locator("table.audit-table").is_visible() and not page.locator(".audit .empty").is_visible()
    page.wait_for_selector('.audit-chart[data-chart="actors"] .chart-numbers tbody tr', state="attached")
    assert not page.locator(".charts-empty").is_visible()
    assert numbers(page, "actors") == [["alice", "1", "1"]]

    notify(dashboard_url, pushed("team/api", "bob"), pushed("team/api", "bob"))
    page.wait_for_function(f"document.querySelectorAll('{ROWS}').length === 3")
    assert page.locator(ROWS).nth(0).locator("td").nth(9).inner_text() == "bob"
    wait_for_numbers(page, "repositories", 2)
    assert numbers(page, "repositories") == [["team/api", "2", "2"], ["team/web", "1", "1"]]
    assert "pushes 3" in page.get_attribute('.audit-chart[data-chart="time"] .chart-plot', "aria-label")
    page.close()


def test_paused_the_table_stands_still_and_counts_the_new_rows_then_shows_them(chromium, dashboard_url: str) -> None:
    notify(dashboard_url, pushed("team/web", "alice"))
    page = opened(chromium, f"{dashboard_url}/registry/")
    assert page.locator(ROWS).count() == 1
    page.click("button.tail-toggle")
    assert page.get_attribute("button.tail-toggle", "aria-pressed") == "true"
    notify(dashboard_url, *(pushed("team/web", "carol") for _ in range(3)))
    page.wait_for_selector("button.tail-toggle:has-text('resume (3 new)')")
    assert page.locator(ROWS).count() == 1
    assert page.inner_text(".tail-state") == "Paused: 3 new events wait — resume to show them."
    page.click("button.tail-toggle")
    assert page.locator(ROWS).count() == 4
    assert page.inner_text("button.tail-toggle") == "pause"
    wait_for_numbers(page, "actors", 2)
    assert numbers(page, "actors") == [["carol", "3", "3"], ["alice", "1", "1"]]
    page.close()


def test_the_tail_follows_the_pages_filter(chromium, dashboard_url: str) -> None:
    page = opened(chromium, f"{dashboard_url}/registry/?actor=bob")
    notify(dashboard_url, pushed("team/web", "alice"), pushed("team/web", "bob"))
    page.wait_for_selector(f"{ROWS}:has-text('bob')")
    page.wait_for_timeout(300)
    assert page.locator(ROWS).count() == 1
    page.close()


def cells(page) -> list[list[tuple[str, list]]]:  # noqa: ANN001 - a Playwright page
    """Each row's cells: the text, and each link's query as decoded pairs."""
    return page.eval_on_selector_all(ROWS, """rows => rows.map(row => [...row.cells].map(cell => [
        cell.innerText, [...cell.querySelectorAll('a')].map(a => [a.pathname, [...new URL(a.href).searchParams]])]))""")


def test_a_row_drawn_live_reads_as_the_same_row_served_with_the_page(chromium, dashboard_url: str) -> None:
    page = opened(chromium, f"{dashboard_url}/registry/")
    session = [event for delivery in V3_SESSION for event in delivery["events"]]
    notify(dashboard_url, *session)
    page.wait_for_function(f"document.querySelectorAll('{ROWS}').length === {len(session)}")
    live = cells(page)
    assert page.locator(f"{ROWS} span.badge", has_text="existence check").count() >= 1
    assert page.locator(f"{ROWS} a.blobs[data-exact]").count() >= 1
    page.reload()
    page.wait_for_selector("#link-state[data-state=live]")
    assert cells(page) == live
    page.close()


def test_harbors_events_appear_without_reload_and_read_as_the_rows_served_with_the_page(chromium, tmp_path: Path
                                                                                          ) -> None:
    with webhook_dashboard(tmp_path, TOKEN, {"ARCHVIZ_HARBOR_AUTH": HARBOR_AUTH}) as url:
        page = opened(chromium, f"{url}/registry/")
        for payload in HARBOR_PAYLOADS:
            request = urllib.request.Request(f"{url}/hooks/harbor/", data=json.dumps(payload).encode(),
                                             headers={"Authorization": HARBOR_AUTH, "Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200
        page.wait_for_function(f"document.querySelectorAll('{ROWS}').length === {len(HARBOR_PAYLOADS)}")
        assert page.locator(f"{ROWS}[data-source=harbor]").count() == len(HARBOR_PAYLOADS)
        live = cells(page)
        page.reload()
        page.wait_for_selector("#link-state[data-state=live]")
        assert cells(page) == live
        page.close()


def test_the_charts_are_readable_at_1280x720_and_reachable_from_the_keyboard(chromium, dashboard_url: str,
                                                                              tmp_path: Path) -> None:
    session = [event for delivery in V3_SESSION for event in delivery["events"]]
    notify(dashboard_url, *session)
    page = opened(chromium, f"{dashboard_url}/registry/")
    page.wait_for_selector('.audit-chart[data-chart="actors"] canvas')
    for chart in ("time", "repositories", "actors"):
        box = page.locator(f'.audit-chart[data-chart="{chart}"]').bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 1280 and box["y"] + box["height"] <= 720
        assert page.locator(f'.audit-chart[data-chart="{chart}"] canvas').bounding_box()["width"] >= 250
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    page.screenshot(path=tmp_path / "audit-1280x720.png")

    focused = []
    for _ in range(40):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("""(() => { const e = document.activeElement;
            return [e.className, e.getAttribute('aria-label') || e.textContent]; })()"""))
        if focused[-1][0] == "" and focused[-1][1] == "The numbers":
            break
    plots = [label for name, label in focused if name == "chart-plot"]
    assert plots and plots[0].startswith(f"{len(session)} events from ")
    page.keyboard.press("Enter")
    assert page.locator('.audit-chart[data-chart="time"] details').get_attribute("open") is not None
    assert sum(int(row[-1]) for row in numbers(page, "time")) == len(session)
    page.close()
