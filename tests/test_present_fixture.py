"""The present view's JS tests (tests/js/present-state.test.mjs) read /api/present/'s answer from a file: it must
stay what the server answers. The file is the answer for two shipped recordings, a `docker run` of a missing image
then a `docker pull`. After a deliberate change to narration, steps, tracker or quiz, rewrite it with
`ARCHVIZ_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_present_fixture.py` and read the diff."""

from __future__ import annotations

import json
import os
from typing import Any

from archviz.classroom import sessions
from archviz.classroom.present import present
from tests.conftest import ROOT

FIXTURE = ROOT / "tests" / "data" / "present" / "run-then-pull.json"
SHIPPED = ROOT / "archviz" / "classroom" / "shipped"


def answer() -> dict[str, Any]:
    run = sessions.parse((SHIPPED / "docker-run-missing-image.json").read_bytes())
    pull = sessions.parse((SHIPPED / "docker-pull.json").read_bytes())
    # The pull's observations follow the run's in the store.
    observations = [*run.observations, *({**o, "id": o["id"] + 100} for o in pull.observations)]
    heading = {"name": "run-then-pull", "title": "docker run of a missing image, then docker pull",
               "since": str(run.since_ns), "until": str(pull.until_ns)}
    return present(observations, heading)


def test_the_js_tests_read_what_the_server_answers() -> None:
    answered = answer()
    if os.environ.get("ARCHVIZ_UPDATE_GOLDEN"):
        FIXTURE.write_text(json.dumps(answered, indent=1, ensure_ascii=False) + "\n")
    assert json.loads(FIXTURE.read_text()) == answered
