"""The sequence diagram in Debian's Chromium, against `manage.py serve` watching the lab."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from archviz.lab import Lab
from tests.conftest import ROOT, Dashboard, run_container

pytestmark = [pytest.mark.lab, pytest.mark.browser]
MERMAID = ROOT / "tests" / ".node" / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
INFERRED = " (inferred)"


def drawn_labels(page, needle: str) -> list[str]:  # noqa: ANN001 - a Playwright page
    """Full labels of the drawn arrows that mention `needle`, in diagram order."""
    return page.evaluate(
        """(needle) => [...document.querySelectorAll("svg.sequence g.message")]
            .map((g) => [g.dataset.id.split(".").map(Number), g.querySelector("title").textContent])
            .filter(([, label]) => label.includes(needle))
            .sort(([a], [b]) => a[0] - b[0] || a[1] - b[1])
            .map(([, label]) => label)""",
        needle,
    )


def wait_for_label(page, text: str, seconds: float = 5.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not any(text in label for label in drawn_labels(page, text)):
        assert time.monotonic() < deadline, f"no arrow labelled {text!r}"
        page.wait_for_timeout(25)


def mermaid_parses(chromium, text: str) -> str:  # noqa: ANN001
    """Render `text` with the real Mermaid library; returns the SVG (raises on a parse error)."""
    assert MERMAID.exists(), "scripts/test installs Mermaid from npm into tests/.node"
    page = chromium.new_page()
    page.set_content("<!doctype html><body></body>")
    page.add_script_tag(path=str(MERMAID))
    svg = page.evaluate(
        """async (text) => {
            mermaid.initialize({startOnLoad: false});
            await mermaid.parse(text);
            return (await mermaid.render("export", text)).svg;
        }""",
        text,
    )
    page.close()
    return svg


def export(page, since_ns: int) -> str:  # noqa: ANN001
    return page.evaluate("(since) => fetch(`/api/sequence.mmd?since=${since}`).then((r) => r.text())",
                         f"{since_ns // 10**9}.{since_ns % 10**9:09d}")


def test_a_run_draws_its_box_in_order_and_its_export_parses_in_mermaid(chromium, dashboard: Dashboard,
                                                                      lab: Lab) -> None:
    page = chromium.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(dashboard.url)
    page.wait_for_selector("#link-state[data-state=live]")
    name = f"seq-{uuid.uuid4().hex[:6]}"
    started = time.time_ns()
    run_container(lab, name, "exit 5")
    wait_for_label(page, f"remove container {name}")
    assert drawn_labels(page, name) == [label + INFERRED for label in (
        f"create container {name} from {lab.base_image}",
        f"start {name}",
        f"create and start task {name}",
        f"{name} exited with code 5",
        f"remove container {name}",
    )]
    box = page.locator("svg.sequence g.interaction", has_text=f"docker run {lab.base_image}").last
    top, bottom = box.locator("rect.box").evaluate(
        "(r) => [r.y.baseVal.value, r.y.baseVal.value + r.height.baseVal.value]")
    arrows = page.locator("svg.sequence g.message", has_text=name)
    for index in range(arrows.count()):
        y = arrows.nth(index).locator("rect.hit").evaluate("(r) => r.y.baseVal.value + r.height.baseVal.value / 2")
        assert top < y < bottom

    text = export(page, started)
    assert f"{name} exited with code 5" in text
    assert name in mermaid_parses(chromium, text)
    page.close()


def test_hostile_commands_and_long_names_render_as_text_and_export_as_valid_mermaid(
    chromium, dashboard: Dashboard, lab: Lab,
) -> None:
    page = chromium.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(dashboard.url)
    page.wait_for_selector("#link-state[data-state=live]")
    hostile = """echo '<img src=x onerror="window.__pwned=1">' "</text><script>window.__pwned=2</script>"; true"""
    name = f"long-{'n' * 110}-{uuid.uuid4().hex[:6]}"
    started = time.time_ns()
    client = lab.client()
    container = client.containers.run(lab.base_image, ["sleep", "30"], name=name, detach=True, network_mode="none")
    try:
        container.exec_run(["sh", "-c", hostile])
    finally:
        container.remove(force=True)
        client.close()
    wait_for_label(page, "exec sh -c")
    (label,) = drawn_labels(page, "exec sh -c")
    assert label == f"exec sh -c {hostile} in {name}{INFERRED}"
    assert page.evaluate("window.__pwned") is None
    assert page.locator("svg img, svg script, body > img").count() == 0
    shown = page.locator("svg.sequence g.message", has_text="exec sh -c").first.locator("text.label").text_content()
    assert len(shown) < 60 and shown.endswith("…")

    text = export(page, started)
    assert "<script>" not in text and "#60;script#62;" in text
    mermaid_parses(chromium, text)
    page.close()


def test_following_pauses_when_scrolled_up_and_counts_what_is_new(chromium, dashboard: Dashboard, lab: Lab) -> None:
    page = chromium.new_page(viewport={"width": 1400, "height": 700})
    page.goto(dashboard.url)
    page.wait_for_selector("#link-state[data-state=live]")
    for number in range(4):
        run_container(lab, f"fill-{number}-{uuid.uuid4().hex[:4]}")
    wait_for_label(page, "remove container fill-3")
    page.locator("#sequence-scroller").hover()
    page.mouse.wheel(0, -2000)
    page.wait_for_selector("#follow[aria-pressed=false]")
    run_container(lab, f"later-{uuid.uuid4().hex[:4]}")
    jump = page.wait_for_selector("#jump-latest:not([hidden])")
    assert "new — jump to latest" in jump.inner_text()
    jump.click()
    page.wait_for_selector("#follow[aria-pressed=true]")
    assert page.locator("#jump-latest").is_hidden()
    page.keyboard.press("k")
    assert page.locator("#details").is_visible()
    selected = page.locator("svg.sequence g.message.selected")
    assert selected.count() == 1
    assert "remove container later-" in selected.locator("title").text_content()
    page.keyboard.press("k")
    assert "from network none" in page.locator("#details .details-title").text_content()
    page.close()


def test_the_svg_download_is_a_standalone_drawing(chromium, dashboard: Dashboard, lab: Lab, tmp_path: Path) -> None:
    page = chromium.new_page()
    page.goto(dashboard.url)
    page.wait_for_selector("#link-state[data-state=live]")
    name = f"svg-{uuid.uuid4().hex[:6]}"
    run_container(lab, name)
    wait_for_label(page, f"remove container {name}")
    with page.expect_download() as download:
        page.click("#export-svg")
    path = tmp_path / "diagram.svg"
    download.value.save_as(path)
    svg = path.read_text()
    assert svg.startswith("<svg") and "<style>" in svg and f"remove container {name}" in svg
    page.close()
