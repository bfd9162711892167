from __future__ import annotations

import shutil
import subprocess

from tests.conftest import ROOT


def test_the_browser_state_functions_pass_their_node_tests() -> None:
    node = shutil.which("node")
    assert node, "node is needed for the browser state tests: scripts/test installs it"
    result = subprocess.run([node, "--test", "tests/js/"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout and "# pass 0" not in result.stdout
