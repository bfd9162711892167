"""The audit page's charts: events over time by action, the busiest repositories, and the actors, counted from
recorded registry sessions, existence checks apart from downloads."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
from django.test import Client

from archviz.audit.charts import SECOND, TOP, buckets
from archviz.sources.registry import RegistryEvent
from tests.test_audit import recorded, store, v3_session

pytestmark = pytest.mark.django_db


def test_time_buckets_are_round_and_start_on_a_multiple_of_their_width() -> None:
    assert buckets(10 * SECOND + 7, 10 * SECOND + 9) == (10 * SECOND, SECOND, 1)
    assert buckets(100 * SECOND, 159 * SECOND) == (100 * SECOND, 2 * SECOND, 30)
    minute = 60 * SECOND
    start, width, count = buckets(3 * minute + 5 * SECOND, 3 * minute + 3 * 3600 * SECOND)
    assert (start, width, count) == (0, 300 * SECOND, 37)
    start, width, count = buckets(0, 400 * 86400 * SECOND)
    assert count <= 48 and width % (7 * 86400 * SECOND) == 0 and start + width * count > 400 * 86400 * SECOND


def line(event: RegistryEvent) -> str:
    return "check" if event.request_method == "HEAD" else event.action


def test_the_charts_count_each_action_with_existence_checks_apart(client: Client) -> None:
    events = recorded("push", "pull", "mount", "delete")
    store(events)
    data = client.get("/api/registry/chart").json()
    assert data["total"] == 26
    assert data["lines"] == ["push", "pull", "check", "mount", "delete"]
    over_time = data["time"]["counts"]
    assert {name: sum(over_time[name]) for name in data["lines"]} == Counter(line(event) for event in events)
    assert Counter(line(event) for event in events)["check"] == 10
    assert int(data["time"]["bucket_ns"]) % SECOND == 0
    repositories = data["repositories"]
    assert repositories["names"][0] == "lab/app" and repositories["more"] == 0
    assert sum(sum(counts) for counts in repositories["counts"].values()) == 26


def test_the_actor_chart_names_each_user(client: Client) -> None:
    events = v3_session()
    store(events)
    actors = client.get("/api/registry/chart").json()["actors"]
    assert sorted(actors["names"]) == ["alice", "bob"]
    for place, actor in enumerate(actors["names"]):
        counted = {name: counts[place] for name, counts in actors["counts"].items() if counts[place]}
        assert counted == Counter(line(event) for event in events if event.actor == actor)


def test_the_charts_follow_the_filter_and_name_only_the_busiest_repositories(client: Client) -> None:
    (template,) = recorded("push")[:1]
    store([replace(template, event_id=f"r{n}-{i}", repository=f"many/r{n:02d}") for n in range(TOP + 3)
           for i in range(n + 1)])
    data = client.get("/api/registry/chart").json()
    assert data["repositories"]["names"][:2] == [f"many/r{TOP + 2:02d}", f"many/r{TOP + 1:02d}"]
    assert len(data["repositories"]["names"]) == TOP and data["repositories"]["more"] == 3
    one = client.get("/api/registry/chart", {"repository": "many/r04"}).json()
    assert one["total"] == 5 and one["repositories"]["names"] == ["many/r04"]


def test_no_events_give_empty_charts_and_bad_parameters_are_refused_by_name(client: Client) -> None:
    data = client.get("/api/registry/chart").json()
    assert data["total"] == 0 and data["lines"] == [] and data["repositories"]["names"] == []
    response = client.get("/api/registry/chart", {"repo": "lab/app"})
    assert response.status_code == 400 and "unknown query parameter repo:" in response.json()["error"]
    assert client.get("/api/registry/chart", {"action": "teleport"}).status_code == 400
