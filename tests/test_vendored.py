"""The browser libraries the dashboard serves from static/vendor/ are npm's own files, at the version and under
the license static/vendor/README.md names."""

from __future__ import annotations

import json
import re

from tests.conftest import ROOT

VENDOR = ROOT / "static" / "vendor"
NODE_MODULES = ROOT / "tests" / ".node" / "node_modules"
# The vendored copy -> the file npm installed.
UPLOT_FILES = {"uPlot.esm.js": "dist/uPlot.esm.js", "uPlot.min.css": "dist/uPlot.min.css", "LICENSE": "LICENSE"}


def test_the_served_uplot_is_npms_own_at_the_version_the_readme_names() -> None:
    package = NODE_MODULES / "uplot"
    assert (package / "package.json").exists(), "scripts/test installs uPlot from npm into tests/.node"
    version = json.loads((package / "package.json").read_text())["version"]
    readme = (VENDOR / "README.md").read_text()
    assert re.search(rf"\| uPlot [^|]*\| {re.escape(version)} \| MIT ", readme)
    assert f"uplot@{version}" in (ROOT / "scripts" / "test").read_text()
    for copy, original in UPLOT_FILES.items():
        assert (VENDOR / "uplot" / copy).read_bytes() == (package / original).read_bytes(), copy
    assert f"(v{version})" in (VENDOR / "uplot" / "uPlot.esm.js").read_text()[:400]
    assert (VENDOR / "uplot" / "LICENSE").read_text().startswith("The MIT License")
