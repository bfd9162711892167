"""An operator's probes and metrics: /healthz says the process answers, /readyz says whether the database, the
channel layer and every watched daemon answer (503 naming what does not), /metrics counts for Prometheus."""

from __future__ import annotations

import re
import time

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client, override_settings
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

from archviz import kinds, metrics, readiness
from archviz.observation import Observation, Source
from archviz.publish import publish
from dashboard.asgi import application
from dashboard.env import channel_layer
from tests.conftest import ROOT, free_port
from tests.scaleout_helpers import in_own_loop

ORIGIN = [(b"origin", b"http://127.0.0.1")]
DAEMON = "unix:///tmp/ops-daemon.sock"


def watcher_report(kind: str, message: str) -> Observation:
    return Observation(time_ns=time.time_ns(), source=Source.WATCHER, host=DAEMON, kind=kind, subject=DAEMON,
                       attributes={"address": DAEMON, "message": message})


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.django_db
@override_settings(ARCHVIZ_REQUIRE_LOGIN=True)
def test_the_probes_and_metrics_answer_without_a_login_where_everything_else_needs_one() -> None:
    client = Client()
    assert client.get("/healthz").json() == {"ok": True}
    assert client.get("/readyz").status_code in (200, 503)
    assert client.get("/metrics").status_code == 200
    assert client.get("/api/inventory/").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_ready_once_a_watcher_reports_its_daemon_connected_and_not_while_it_is_unreachable() -> None:
    client = Client()
    nothing = client.get("/readyz")
    assert nothing.status_code == 503
    assert nothing.json()["not_ready"] == ["daemon"]
    assert "no watcher has reported" in nothing.json()["checks"]["daemon"]["detail"]

    publish([watcher_report(kinds.WATCHER_CONNECTED, "Docker 20.10.24 (API 1.41)")])
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "not_ready": [], "checks": {
        "database": {"ok": True, "detail": "sqlite"},
        "channel layer": {"ok": True, "detail": "in memory"},
        f"daemon {DAEMON}": {"ok": True, "detail": "Docker 20.10.24 (API 1.41)"},
    }}

    publish([watcher_report(kinds.WATCHER_UNREACHABLE, "cannot connect: connection refused (nothing listens there)")])
    down = client.get("/readyz")
    assert down.status_code == 503
    assert down.json()["not_ready"] == [f"daemon {DAEMON}"]
    assert down.json()["checks"][f"daemon {DAEMON}"]["detail"].startswith("cannot connect: connection refused")


def test_a_redis_that_does_not_answer_is_named_without_its_password() -> None:
    config = channel_layer(f"redis://:s3cret@127.0.0.1:{free_port()}/0")
    check = in_own_loop(readiness.channel_layer(config))
    assert (check.name, check.ok) == ("channel layer", False)
    assert check.detail.startswith("Redis at 127.0.0.1:") and "does not answer" in check.detail
    assert "s3cret" not in check.detail


@pytest.mark.django_db(transaction=True)
def test_metrics_count_what_was_ingested_and_published_in_the_prometheus_text_format() -> None:
    before = (value("archviz_observations_ingested_total", source="watcher"), value("archviz_publications_total"),
              value("archviz_publish_latency_seconds_count"))
    publish([watcher_report(kinds.WATCHER_CONNECTED, "up")])
    publish([watcher_report(kinds.WATCHER_UNREACHABLE, "down"), watcher_report(kinds.WATCHER_CONNECTED, "up")])
    response = Client().get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    text = response.content.decode()
    assert "# TYPE archviz_observations_ingested_total counter" in text
    assert re.search(r"^archviz_unpublished_observations 0\.0$", text, re.M)
    assert re.search(r"^archviz_publisher_leading 1\.0$", text, re.M)
    after = (value("archviz_observations_ingested_total", source="watcher"), value("archviz_publications_total"),
             value("archviz_publish_latency_seconds_count"))
    assert [b - a for a, b in zip(before, after, strict=True)] == [3, 2, 3]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_metrics_count_open_websockets_and_the_snapshots_browsers_ask_for_again() -> None:
    open_before, resyncs_before = value("archviz_websocket_clients", socket="live"), value(
        "archviz_resyncs_total", socket="live")
    communicator = WebsocketCommunicator(application, "/ws/live/", headers=ORIGIN)
    assert (await communicator.connect())[0]
    await communicator.receive_json_from()
    assert value("archviz_websocket_clients", socket="live") == open_before + 1
    await communicator.send_json_to({"type": "resync"})
    assert (await communicator.receive_json_from())["type"] == "snapshot"
    assert value("archviz_resyncs_total", socket="live") == resyncs_before + 1
    await communicator.disconnect()
    assert value("archviz_websocket_clients", socket="live") == open_before


def test_every_metric_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    names = [m.describe()[0].name for m in vars(metrics).values() if isinstance(m, MetricWrapperBase)]
    assert "archviz_publications" in names and "archviz_sockets_closed_behind" in names
    assert [name for name in names if f"`{name}" not in readme] == []
