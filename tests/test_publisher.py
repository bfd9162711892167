"""The one publisher: what any process stores is folded once, in store order, into numbered publications, and a
snapshot is their merge, so a browser that connects late is shown exactly what the others were sent. Recorded
sessions through the tap (tests/data/scenarios) are stored the way the processes store them: in batches."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from archviz import publisher
from archviz.models import Publication, StoredObservation
from archviz.observation import Observation, Source
from archviz.publish import publish
from archviz.publisher import PUBLISHER, Publisher
from archviz.snapshot import live_snapshot, merged
from dashboard.asgi import application

SCENARIOS = Path(__file__).parent / "data" / "scenarios"
ORIGIN = [(b"origin", b"http://127.0.0.1")]


def scenario(*names: str) -> list[Observation]:
    observations = []
    for name in names:
        for line in (SCENARIOS / f"{name}.jsonl").read_text().splitlines():
            o = json.loads(line)
            observations.append(Observation(time_ns=int(o["time_ns"]), source=Source(o["source"]), host=o["host"],
                                            kind=o["kind"], subject=o["subject"], attributes=o["attributes"],
                                            correlation=o["correlation"]))
    return observations


def batches(observations: list[Observation], size: int) -> Iterator[list[Observation]]:
    for start in range(0, len(observations), size):
        yield observations[start:start + size]


def published() -> list[Publication]:
    return list(Publication.objects.order_by("seq"))


def labels(sequence: dict) -> list[tuple[str, str]]:
    return [(m["id"], m["label"]) for m in sequence["messages"]]


@pytest.mark.django_db(transaction=True)
def test_publications_are_numbered_densely_and_account_for_every_stored_observation() -> None:
    observations = scenario("run-missing-image", "tag-rmi")
    for batch in batches(observations, 5):
        publish(batch)
    publications = published()
    ids = list(StoredObservation.objects.order_by("id").values_list("id", flat=True))
    assert [p.seq for p in publications] == list(range(1, len(publications) + 1))
    assert publications[0].first_observation == ids[0]
    for earlier, later in zip(publications, publications[1:], strict=False):
        assert later.first_observation == earlier.last_observation + 1
    assert publications[-1].last_observation == ids[-1] and len(ids) == len(observations)


@pytest.mark.django_db(transaction=True)
def test_a_snapshot_draws_what_was_published_message_for_message() -> None:
    for batch in batches(scenario("run-missing-image"), 3):
        publish(batch)
    observations, seq, sequence = live_snapshot(200)
    assert seq == published()[-1].seq
    stored = StoredObservation.objects.order_by("id").values_list("id", flat=True)
    assert [o["id"] for o in observations] == list(stored)
    typed, *_ = sequence["messages"]
    # The User's first arrow was sent again once the command's name was known: it kept its place, took the label.
    assert typed["label"] == "types `docker run --rm 127.0.0.1:5000/lab/app:1`"
    assert sequence == merged((p.sequence for p in published()), observations[0]["id"])


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_browser_connecting_late_is_shown_what_a_browser_watching_all_along_was_sent() -> None:
    watching = WebsocketCommunicator(application, "/ws/live/", headers=ORIGIN)
    assert (await watching.connect())[0]
    frames = [await watching.receive_json_from()]
    for batch in batches(scenario("build-missing-base", "run-detached-exec-stop-rm"), 4):
        await database_sync_to_async(publish)(batch)
        frames.append(await watching.receive_json_from(timeout=5))
    assert [f["seq"] for f in frames] == list(range(len(frames)))

    late = WebsocketCommunicator(application, "/ws/live/", headers=ORIGIN)
    assert (await late.connect())[0]
    snapshot = await late.receive_json_from()
    assert snapshot["seq"] == frames[-1]["seq"]
    assert snapshot["sequence"] == merged((f["sequence"] for f in frames), 0)
    assert snapshot["observations"] == [o for f in frames[1:] for o in f["observations"]]
    await watching.disconnect()
    await late.disconnect()


@pytest.mark.django_db(transaction=True)
def test_a_publisher_taking_over_continues_the_numbering_and_the_command_under_way() -> None:
    first_half, second_half = scenario("run-missing-image")[:12], scenario("run-missing-image")[12:]
    for batch in batches(first_half, 4):
        publish(batch)
    # The leading process goes away: its successor starts with nothing in memory.
    PUBLISHER.leadership.release()
    PUBLISHER.may_lead = False
    successor = Publisher()
    try:
        for batch in batches(second_half, 4):
            publish(batch)
        assert successor.tail() == 1
    finally:
        successor.leadership.release()
        PUBLISHER.may_lead = True
    handed_over = merged((p.sequence for p in published()), 0)

    Publication.objects.all().delete()
    PUBLISHER.reset()
    assert PUBLISHER.tail() == 1  # the same store, published by one publisher from the start
    assert labels(handed_over) == labels(merged([published()[0].sequence], 0))
    assert len(handed_over["interactions"]) == 1


@pytest.mark.django_db(transaction=True)
def test_a_process_that_may_not_lead_stores_and_leaves_publishing_to_another() -> None:
    PUBLISHER.may_lead = False
    try:
        publish(scenario("kill"))
        assert published() == []
    finally:
        PUBLISHER.may_lead = True
    assert PUBLISHER.tail() == 1
    assert published()[0].last_observation == StoredObservation.objects.order_by("id").last().pk


@pytest.mark.django_db(transaction=True)
def test_only_the_newest_publications_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publisher, "KEEP", 4)
    monkeypatch.setattr(publisher, "PRUNE_EVERY", 5)
    for observation in scenario("run-missing-image")[:12]:
        publish([observation])
    assert [p.seq for p in published()] == [7, 8, 9, 10, 11, 12]
    ids = list(StoredObservation.objects.order_by("id").values_list("id", flat=True))
    observations, seq, _ = live_snapshot(3)
    assert (seq, [o["id"] for o in observations]) == (12, ids[-3:])


def message(id_: str, label: str, observation: int, sender: str = "client:a", interaction: str = "i1") -> dict:
    return {"id": id_, "time_ns": "1", "sender": sender, "receiver": "daemon:d", "kind": "request", "label": label,
            "observation": observation, "interaction": interaction, "block": None, "inferred": False, "detail": ""}


def delta(messages: list[dict], participants: list[str], interactions: list[str]) -> dict:
    return {"participants": [{"id": p, "role": p.split(":")[0], "label": p} for p in participants],
            "messages": messages, "interactions": [{"id": i, "title": i, "blocks": {}} for i in interactions]}


def test_merging_keeps_a_resent_message_in_its_place_with_its_new_label() -> None:
    diagram = merged([
        delta([message("i1.user", "types `docker`", 1), message("2.0", "ping", 2)], ["client:a", "daemon:d"],
              ["i1"]),
        delta([message("i1.user", "types `docker run x`", 1), message("3.0", "create", 3)], [], ["i1"]),
    ], 1)
    assert labels(diagram) == [("i1.user", "types `docker run x`"), ("2.0", "ping"), ("3.0", "create")]


def test_merging_leaves_out_what_came_before_the_window_and_whoever_took_part_only_there() -> None:
    diagram = merged([
        delta([message("1.0", "old", 1, sender="client:old", interaction="i1")], ["client:old", "daemon:d"], ["i1"]),
        delta([message("5.0", "new", 5, interaction="i5")], ["client:a"], ["i5"]),
    ], 5)
    assert labels(diagram) == [("5.0", "new")]
    assert [p["id"] for p in diagram["participants"]] == ["daemon:d", "client:a"]
    assert [i["id"] for i in diagram["interactions"]] == ["i5"]


@pytest.mark.django_db(transaction=True)
def test_a_burst_stored_by_one_thread_is_one_publication_made_by_its_last_store() -> None:
    # The registry webhook's thread publishes what it stores, once for a burst from several registries.
    *burst, last = list(batches(scenario("push-new"), 2))
    for batch in burst:
        with PUBLISHER.publishing_here(more_waiting=True):
            publish(batch)
    assert published() == []
    with PUBLISHER.publishing_here():
        publish(last)
    [publication] = published()
    assert publication.last_observation == StoredObservation.objects.order_by("id").last().pk
    assert publication.first_observation == StoredObservation.objects.order_by("id").first().pk


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_burst_whose_last_store_never_comes_is_published_by_the_leaders_loop() -> None:
    running = asyncio.create_task(PUBLISHER.run())
    try:
        def store_deferred() -> None:
            with PUBLISHER.publishing_here(more_waiting=True):
                publish(scenario("kill"))
        await database_sync_to_async(store_deferred)()
        deadline = time.monotonic() + 5 * publisher.POLL_SECONDS
        while not await database_sync_to_async(published)():
            assert time.monotonic() < deadline, "the deferred burst was never published"
            await asyncio.sleep(0.05)
    finally:
        PUBLISHER.stop()
        await running
