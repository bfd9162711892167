"""The inventory page in Debian's Chromium, against `manage.py serve` watching the lab."""

from __future__ import annotations

import uuid

import pytest

from archviz.lab import Lab
from tests.conftest import Dashboard

pytestmark = [pytest.mark.lab, pytest.mark.browser]


def test_a_new_container_appears_in_place_and_the_tables_sort_filter_and_explain(chromium, dashboard: Dashboard,
                                                                               lab: Lab) -> None:
    page = chromium.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{dashboard.url}/inventory/")
    page.wait_for_selector("#link-state[data-state=live]")
    page.wait_for_selector(".inventory-table[data-kind=image] tbody tr")
    name = f"inv-page-{uuid.uuid4().hex[:6]}"
    client = lab.client()
    container = client.containers.run(lab.base_image, ["sleep", "60"], name=name, detach=True, network_mode="none")
    try:
        row = page.wait_for_selector(
            f".inventory-table[data-kind=container] tr:has(td:text-is('{name}')):has(td:text-is('running'))")
        assert "flash" in (row.get_attribute("class") or "")
        # By id: the base image carries other tests' tags too, and a row names an image by its first tag.
        base_id = client.images.get(lab.base_image).id
        image_row = page.locator(f".inventory-table[data-kind=image] tr[data-id='{base_id}']")
        assert name in image_row.inner_text()  # "used by"

        containers = page.locator(".inventory-table[data-kind=container]")
        containers.locator("input.filter").fill(name)
        assert containers.locator("tbody tr").count() == 1
        containers.locator("input.filter").fill("no-such-container")
        assert containers.locator("tbody tr").count() == 0
        assert containers.locator(".count").inner_text().startswith("0 of ")
        containers.locator("input.filter").fill("")

        image_row.locator("button.link").click()
        dialog = page.locator("#image-detail")
        assert dialog.is_visible() and "Imported from -" in dialog.inner_text()
        dialog.locator("button").click()

        container.stop(timeout=1)
        page.wait_for_selector(f".inventory-table[data-kind=container] tr:has(td:text-is('{name}')) td[data-failed]")
    finally:
        container.remove(force=True)
        client.close()
    page.wait_for_selector(f".inventory-table[data-kind=container] tr:has(td:text-is('{name}'))", state="detached")
    page.close()


def test_an_image_of_the_lab_hub_stand_in_wears_a_badge_and_its_detail_says_it_is_not_the_real_one(
        chromium, dashboard: Dashboard, lab: Lab) -> None:
    client = lab.client()
    image = client.images.pull("busybox", tag="latest")  # from the lab registry, the daemon's Docker Hub mirror
    try:
        page = chromium.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"{dashboard.url}/inventory/")
        row = f".inventory-table[data-kind=image] tr[data-id='{image.id}']"
        badge = page.wait_for_selector(f"{row} .badge.stand-in")
        assert badge.inner_text() == "lab stand-in"
        page.wait_for_selector(f"{row} button.link").click()
        note = page.locator("#image-detail .detail-stand-in")
        assert note.is_visible()
        assert note.inner_text().startswith("A lab stand-in for Docker Hub's busybox, not the real image")
        assert page.locator("#image-detail .detail-title .badge.stand-in").inner_text() == "lab stand-in"
        page.close()
    finally:
        client.images.remove(image.id, force=True)
        client.close()
