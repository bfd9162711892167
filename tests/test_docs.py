from __future__ import annotations

import re

from archviz.kinds import ALL_KINDS
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
ENV_READ = re.compile(r"""(?:env_\w+\(\s*|os\.environ\.get\(\s*|os\.environ\[\s*)["']([A-Z][A-Z0-9_]+)["']""")


def variables_read() -> set[str]:
    names: set[str] = set()
    for folder in ("dashboard", "archviz"):
        for path in (ROOT / folder).rglob("*.py"):
            names.update(ENV_READ.findall(path.read_text()))
    return names


def test_every_setting_read_from_the_environment_is_documented() -> None:
    names = variables_read()
    assert {"DATABASE_URL", "REDIS_URL", "DOCKER_HOST", "ARCHVIZ_REQUIRE_LOGIN"} <= names
    missing = sorted(name for name in names if f"`{name}`" not in README)
    assert missing == []


def test_every_observation_kind_is_documented() -> None:
    assert sorted(kind for kind in ALL_KINDS if f"`{kind}`" not in README) == []


def test_the_ci_runs_the_test_command_the_readme_gives() -> None:
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    quick_start = README.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0].split()
    assert quick_start == ["./scripts/serve", "./scripts/test"]
    assert ci == "./scripts/test"
