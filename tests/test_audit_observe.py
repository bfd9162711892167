"""Each kept registry event gets its Observation exactly once: with it, or (where serve publishes a moment later)
just after it; and what a stop left unmade is made as serve starts again."""

from __future__ import annotations

import pytest
from django.db import DatabaseError
from django.db.models import Count

from archviz.audit import writer
from archviz.audit.ingest import ingest, observe, observe_missing
from archviz.models import AuditEvent, Publication, StoredObservation
from archviz.publisher import PUBLISHER
from archviz.sources.registry import read_delivery
from tests.recorded import registry_v3_events
from tests.test_registry_hook import envelopes

pytestmark = pytest.mark.django_db(transaction=True)


def deliveries() -> list[bytes]:
    return [delivery["body"].encode() for delivery in envelopes("v3_session")]


def observed_events() -> list[str]:
    """The audit event each registry Observation stands for, in store order."""
    return [row.attributes["event"] for row in StoredObservation.objects.filter(source="registry").order_by("id")]


def test_an_event_stored_without_its_observation_gets_it_once_when_made_later() -> None:
    outcomes = [ingest(read_delivery(body), observed=False) for body in deliveries()]
    assert observed_events() == []
    observe([event for outcome in outcomes for event in outcome.fresh])
    assert observed_events() == [event["id"] for event in registry_v3_events()]


def test_a_redelivered_event_brings_no_second_observation_to_make() -> None:
    body = deliveries()[0]
    assert len(ingest(read_delivery(body), observed=False).fresh) == 1
    assert ingest(read_delivery(body), observed=False).fresh == ()


def test_the_observations_a_stop_left_unmade_are_made_once_as_serve_starts() -> None:
    bodies = deliveries()
    for body in bodies[:10]:
        ingest(read_delivery(body))  # observed with it
    for body in bodies[10:]:
        ingest(read_delivery(body), observed=False)  # stored; serve stopped before observing them
    assert len(observed_events()) == 10
    PUBLISHER.reset()
    writer.catch_up()
    assert observed_events() == [event["id"] for event in registry_v3_events()]
    assert not StoredObservation.objects.values("key").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert Publication.objects.order_by("-seq").first().last_observation == StoredObservation.objects.latest("id").id
    assert observe_missing() == 0


def test_only_the_newest_events_are_looked_at_for_a_missing_observation() -> None:
    for body in deliveries():
        ingest(read_delivery(body), observed=False)
    assert observe_missing(newest=5) == 5
    newest = AuditEvent.objects.order_by("-id").values_list("event_id", flat=True)[:5]
    assert observed_events() == list(reversed(newest))


def test_observations_that_could_not_be_made_are_made_by_the_next_publication(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(PUBLISHER, "publishes_later", lambda: True)  # as under serve: observed a moment later
    bodies = deliveries()
    for body in bodies[:5]:
        writer.store(read_delivery(body), "10.0.0.1")
    with monkeypatch.context() as failing:
        failing.setattr(writer, "observe", lambda events: (_ for _ in ()).throw(DatabaseError("disk I/O error")))
        writer.publish_stored()
    assert observed_events() == []
    assert "could not observe or publish what the registry webhook stored" in caplog.text
    for body in bodies[5:]:
        writer.store(read_delivery(body), "10.0.0.1")
    writer.publish_stored()
    assert observed_events() == [event["id"] for event in registry_v3_events()]
