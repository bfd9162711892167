"""`GET /api/map/` and the `/map/` page: the map's state from the store, its one query parameter checked, and the
page's empty states saying what to do."""

from __future__ import annotations

import json

import pytest
from django.test import Client, override_settings

from archviz.audit.ingest import ingest
from archviz.inventory import Change
from archviz.publish import publish, publish_inventory
from archviz.sources.registry import read_delivery
from tests.recorded import LAB_HOST
from tests.test_map_socket import observations
from tests.test_map_state import CLI, DAEMON, DATA, REGISTRY

pytestmark = pytest.mark.django_db


def test_the_map_reads_inventory_registry_audit_and_tap_clients_from_the_store(client: Client) -> None:
    publish(observations("pull"))
    image = {"id": "sha256:abc", "tags": ["127.0.0.1:5000/lab/app:1"], "digests": [], "size": 100, "created": 1,
             "layers": [{"id": "sha256:l1", "size": 100, "created_by": ""}]}
    publish_inventory(LAB_HOST, [Change("upsert", "image", image["id"], image)], reload=True)
    for envelope in json.loads((DATA / "registry" / "push.json").read_text()):  # a real push, as delivered
        ingest(read_delivery(json.dumps(envelope).encode()))
    state = client.get("/api/map/").json()
    assert [c["id"] for c in state["clients"]] == [CLI]
    (daemon,) = state["daemons"]
    assert (daemon["id"], daemon["parts"][0]["count"], daemon["watched"]) == (DAEMON, 1, True)
    pushed, named = state["registries"]
    assert (pushed["id"], pushed["heard"], pushed["contents"]) == ("registry:127.0.0.1:5997", True, ["lab/app: 1"])
    assert (named["id"], named["heard"]) == (REGISTRY, False)  # only the pull's request named it
    assert {e["kind"] for e in state["edges"]} == {"client-daemon", "daemon-runtime", "daemon-registry"}


def test_one_host_can_be_asked_for_and_an_unknown_one_is_a_404(client: Client) -> None:
    publish(observations("pull"))
    assert [d["host"] for d in client.get("/api/map/", {"host": LAB_HOST}).json()["daemons"]] == [LAB_HOST]
    missing = client.get("/api/map/", {"host": "tcp://10.0.0.9:2375"})
    assert missing.status_code == 404 and "leave host out" in missing.json()["error"]


@pytest.mark.parametrize("value", ["x" * 5000, "a\x00b", "tcp://a\r\nSet-Cookie: x=1"], ids=["huge", "nul", "crlf"])
def test_a_host_that_cannot_be_an_address_is_a_400_on_the_api_and_the_page(client: Client, value: str) -> None:
    api = client.get("/api/map/", {"host": value})
    assert api.status_code == 400 and "host must be a daemon's address" in api.json()["error"]
    page = client.get("/map/", {"host": value})
    assert page.status_code == 400 and "Set-Cookie" not in page.headers


def test_the_page_is_in_the_navigation_and_says_what_to_do_while_nothing_is_seen(client: Client) -> None:
    html = client.get("/map/").content.decode()
    assert 'href="/map/"' in client.get("/").content.decode()
    assert "No client seen yet" in html and "ARCHVIZ_TAP_SOCKET=unix:///tmp/archviz.sock" in html
    assert "No Docker host yet" in html and "python manage.py lab up" in html
    assert "No registry heard yet" in html and "/hooks/registry/" in html
    with override_settings(ARCHVIZ_TAP_SOCKET="unix:///tmp/tap-here.sock"):
        assert "export DOCKER_HOST=unix:///tmp/tap-here.sock" in client.get("/map/").content.decode()


@override_settings(ARCHVIZ_REQUIRE_LOGIN=True)
def test_with_login_required_the_map_needs_one(client: Client) -> None:
    assert client.get("/api/map/").status_code == 401
    assert client.get("/map/").status_code == 302
