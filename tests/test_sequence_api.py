from __future__ import annotations

import pytest
from django.test import Client

from archviz.models import StoredObservation
from archviz.observation import Observation, Source
from archviz.publish import publish
from tests.recorded import recorded

pytestmark = pytest.mark.django_db


def store(*names: str) -> list[StoredObservation]:
    return publish([
        Observation(time_ns=int(o["time_ns"]), source=Source(o["source"]), host=o["host"], kind=o["kind"],
                    subject=o["subject"], attributes=o["attributes"], correlation=o["correlation"], key=str(o["id"]))
        for o in recorded(*names)
    ])


def test_the_mermaid_export_covers_the_range_asked_for(client: Client) -> None:
    rows = store("run_missing_image", "failing_container")
    everything = client.get("/api/sequence.mmd").content.decode()
    assert "fail-1 exited with code 42" in everything and "alt image not found locally" in everything
    since = rows[6].time_ns  # the create that starts the second recording
    later = client.get("/api/sequence.mmd", {"since": f"{since // 10**9}.{since % 10**9:09d}"}).content.decode()
    assert "fail-1 exited with code 42" in later
    assert "web-1" not in later and "alt" not in later


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"since": "soon"}, "since='soon' is neither Unix seconds nor ISO 8601"),
        ({"until": "nan"}, "out of range"),
        ({"since": "10", "until": "5"}, "since is after until"),
        ({"since": "x" * 5000}, "since is too long"),
    ],
)
def test_a_bad_range_gets_a_400_naming_the_problem(client: Client, query: dict[str, str], message: str) -> None:
    response = client.get("/api/sequence.mmd", query)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_an_observation_can_be_looked_up_by_id(client: Client) -> None:
    (row, *_) = store("failing_container")
    assert client.get(f"/api/observations/{row.pk}").json()["kind"] == "container-create"
    missing = client.get("/api/observations/999999")
    assert missing.status_code == 404 and "no observation 999999" in missing.json()["error"]
