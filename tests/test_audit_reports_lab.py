"""The audit reports in Chromium, over what the lab's real registry sent: a team goes from the audit page to a
report, asks it something with the form, reads the rows and downloads the CSV."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archviz.audit.hours import WEEKDAYS
from archviz.lab import Lab
from tests.conftest import Dashboard, NotificationSink
from tests.test_registry_lab import push, settle

pytestmark = [pytest.mark.lab, pytest.mark.browser]


def test_a_team_opens_the_reports_from_the_audit_page(chromium, registry_dashboard: Dashboard,
                                                      sink: NotificationSink, lab: Lab) -> None:
    repository = f"reports/app{uuid.uuid4().hex[:6]}"
    push(lab, repository)
    settle(registry_dashboard, sink, {repository})
    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{registry_dashboard.url}/registry/")
    page.click("nav.reports a:has-text('Pushes outside working hours')")
    page.wait_for_url("**/registry/reports/after-hours-pushes/")
    # Every day but today (in the dashboard's time zone, UTC) is a working day: the push just made is after hours.
    today = WEEKDAYS[datetime.now(UTC).weekday()]
    page.fill("input[name=repository]", repository)
    page.fill("input[name=weekdays]", ",".join(day for day in WEEKDAYS if day != today))
    page.click("button[type=submit]")
    page.wait_for_url("**/after-hours-pushes/?*weekdays=*")
    rows = page.locator("table.report-table tbody tr")
    assert rows.count() == 1  # the image's manifest, not its blobs
    assert f"\t{today}\t{repository}\t1\t" in rows.first.inner_text()
    with page.expect_download() as download:
        page.click("a:has-text('CSV')")
    assert Path(download.value.path()).read_text().count(repository) == 1
    page.click("nav.report-list a:has-text('Tags nobody pulled')")
    page.fill("input[name=repository]", repository)
    page.fill("input[name=days]", "0")
    page.click("button[type=submit]")
    page.wait_for_url("**/unpulled-tags/?*days=0*")
    assert rows.count() == 1 and rows.first.locator("td").nth(5).inner_text() == "never"  # last pulled
    page.close()
