"""The architecture map's state, as a pure function of what archviz holds: inventories, registry contents and the
clients the tap saw; and what each Message of the sequence mapping lights on it. Recorded real data throughout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archviz.architecture.gather import host_from_query
from archviz.architecture.seen import clients_seen, registry_contents
from archviz.architecture.state import MAX_CLIENTS, MAX_CONTENTS, architecture
from archviz.architecture.traffic import traffic
from archviz.inventory import Inventory, container_item, image_item
from archviz.query import QueryError
from archviz.sequence import Sequencer
from tests.recorded import LAB_HOST

DATA = Path(__file__).parent / "data"
SCENARIOS = sorted((DATA / "scenarios").glob("*.jsonl"))
IMAGE = json.loads((DATA / "inventory" / "image_layers.json").read_text())
CONTAINERS = json.loads((DATA / "inventory" / "containers.json").read_text())
CLI = "client:Docker-Client/28.2.2 (linux)"
DAEMON, RUNTIME, REGISTRY = f"daemon:{LAB_HOST}", f"runtime:{LAB_HOST}", "registry:127.0.0.1:5000"


def scenario(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / "scenarios" / f"{name}.jsonl").read_text().splitlines() if line]


def requests_of(observations: list[dict]) -> list[dict]:
    return [o for o in observations if o["kind"] in ("api-request", "action-pull")]


def notifications_of(observations: list[dict]) -> list[dict]:
    return [{"host": o["host"], "action": o["kind"].removeprefix("registry-"), "repository": a["repository"],
             "tag": a["tag"], "digest": a["digest"], "target_kind": a["target"]}
            for o in observations if o["source"] == "registry" for a in [o["attributes"]]]


def lab_inventory() -> dict:
    """The recorded three-layer image, a second image built on its first two layers, one running and one exited
    container, and a volume the running one uses."""
    base = image_item(IMAGE["summary"], IMAGE["history"], IMAGE["inspect"])
    child = {**base, "id": "sha256:child", "tags": ["rec/child:1"], "size": base["size"] + 10,
             "layers": [*base["layers"][:2], {"id": "sha256:own", "size": 10, "created_by": "RUN x"}]}
    containers = [container_item(CONTAINERS[name]["inspect"]) for name in ("rec-exited", "rec-running")]
    return Inventory(images={base["id"]: base, child["id"]: child}, containers={c["id"]: c for c in containers},
                     volumes={"vol-a": {"id": "vol-a", "name": "vol-a", "driver": "local", "mountpoint": "/v"}}
                     ).to_wire()


def test_a_daemon_holds_its_runtime_and_counts_images_containers_and_the_layers_they_share() -> None:
    state = architecture({LAB_HOST: lab_inventory()}, {}, [])
    (daemon,) = state["daemons"]
    images, containers, networks, volumes = daemon["parts"]
    assert (daemon["id"], daemon["label"], daemon["runtime"]["id"]) == (DAEMON, "docker.sock", RUNTIME)
    assert (images["count"], images["layers"], images["shared_layers"]) == (2, 4, 2)
    first_two = sum(layer["size"] for layer in lab_inventory()["images"][0]["layers"][:2])
    assert images["saved"] == first_two
    assert images["bytes"] == sum(i["size"] for i in lab_inventory()["images"]) - first_two
    assert images["facts"][0] == "2 images" and images["facts"][2].startswith("2 layers shared, saving ")
    assert (containers["count"], containers["running"], containers["stopped"]) == (2, 1, 1)
    assert containers["contents"][0].startswith("rec-running · ") and "exited (3)" in containers["contents"][1]
    assert (networks["count"], volumes["count"]) == (0, 1)
    assert volumes["contents"] == ["vol-a (local) · used by 1 container"]
    assert daemon["runtime"]["facts"] == ["1 task running"]
    assert daemon["runtime"]["contents"] == ["task rec-running (rec/layers:1)"]
    # Every box explains itself in a few plain sentences.
    for box in [daemon, daemon["runtime"], *daemon["parts"]]:
        assert 2 <= box["about"].count(". ") + 1 <= 4, box["about"]


def test_a_pull_through_the_tap_draws_its_client_the_daemon_and_the_registry_joined_by_edges() -> None:
    observations = scenario("pull")
    state = architecture({LAB_HOST: lab_inventory()}, registry_contents(notifications_of(observations)),
                         clients_seen(requests_of(observations)))
    (client,) = state["clients"]
    assert (client["id"], client["label"], client["host"]) == (CLI, "Docker-Client/28.2.2", LAB_HOST)
    assert client["requests"] == 2 and client["facts"] == ["2 requests seen", "docker (process 13201)"]
    assert client["contents"] == ["asked: pull 127.0.0.1:5000/lab/app:1", "asked: ping the daemon"]
    (registry,) = state["registries"]
    assert (registry["id"], registry["contents"], registry["facts"]) == (
        REGISTRY, ["lab/app: 1"], ["1 repository", "1 tag"])
    assert [(e["kind"], e["from"], e["to"]) for e in state["edges"]] == [
        ("client-daemon", CLI, DAEMON), ("daemon-runtime", DAEMON, RUNTIME), ("daemon-registry", DAEMON, REGISTRY)]


def lit_by(observations: list[dict]) -> list[dict]:
    """What the live socket's Messages light, folded as the live broadcast folds them."""
    sequencer = Sequencer()
    lit = []
    for observation in observations:
        delta = sequencer.add(observation)
        lit += traffic(delta.messages, {p.id: p.role for p in sequencer.participants.values()})
    return lit


def test_each_message_of_a_pull_lights_the_edge_its_participants_name() -> None:
    lit = [(e["kind"], e["edge"] or e["box"], e["forward"], e["label"]) for e in lit_by(scenario("pull"))]
    # The User types into the client; the line is sent again once the command's name is known.
    assert lit[0] == ("box", CLI, True, "types `docker (process 13201)`")
    assert ("box", CLI, True, "types `docker pull 127.0.0.1:5000/lab/app:1`") in lit
    assert ("client-daemon", f"{CLI}|{DAEMON}", True, "pull 127.0.0.1:5000/lab/app:1") in lit
    assert ("client-daemon", f"{CLI}|{DAEMON}", False, "200 OK, streaming…") in lit
    assert ("daemon-registry", f"{DAEMON}|{REGISTRY}", True, "download blob 069eddd19b6b") in lit
    assert ("daemon-registry", f"{DAEMON}|{REGISTRY}", False, "blob 069eddd19b6b (111 B)") in lit
    assert ("box", DAEMON, True, "layer 07ae0ad6ac77 already exists") in lit
    assert lit[-1] == ("box", CLI, True, "prints the result, exit 0")


def test_a_container_start_and_exit_cross_the_edge_to_the_runtime() -> None:
    lit = [(e["edge"], e["forward"]) for e in lit_by(scenario("run-exit-code")) if e["kind"] == "daemon-runtime"]
    assert lit == [(f"{DAEMON}|{RUNTIME}", True), (f"{DAEMON}|{RUNTIME}", False)]


@pytest.mark.parametrize("path", SCENARIOS, ids=[path.stem for path in SCENARIOS])
def test_every_edge_a_recorded_session_lights_is_an_edge_of_its_map(path: Path) -> None:
    """One mapping: the boxes are the sequence diagram's participants, so what the Messages light is drawn. The one
    exception is the client of a daemon event no tapped request explains: nobody saw it, so it has no box."""
    observations = scenario(path.stem)
    state = architecture({LAB_HOST: Inventory().to_wire()}, registry_contents(notifications_of(observations)),
                         clients_seen(requests_of(observations)))
    edges = {edge["id"] for edge in state["edges"]}
    boxes = {box["id"] for box in [*state["clients"], *state["registries"], *state["daemons"]]} | {RUNTIME}
    for entry in lit_by(observations):
        if not (entry["edge"] or "").startswith("client:inferred|"):
            assert (entry["edge"] in edges) if entry["edge"] else (entry["box"] in boxes), entry


def test_what_a_registry_holds_follows_its_pushes_and_deletes() -> None:
    def event(action: str, repository: str, tag: str = "", digest: str = "", kind: str = "manifest") -> dict:
        return {"host": "r:5000", "action": action, "repository": repository, "tag": tag, "digest": digest,
                "target_kind": kind}

    events = [
        event("push", "lab/app", "1", "sha256:a"), event("push", "lab/app", "2", "sha256:a"),
        event("push", "lab/app", "3", "sha256:b"), event("pull", "lab/web", "latest", "sha256:c"),
        event("push", "lab/blobs", digest="sha256:d", kind="blob"), event("push", "lab/gone", "1", "sha256:e"),
        event("delete", "lab/app", digest="sha256:a"),  # a manifest: both its tags go
        event("delete", "lab/web", "latest", kind="tag"),
        event("delete", "lab/gone"),  # the whole repository (distribution 3)
    ]
    assert registry_contents(events) == {"r:5000": {"lab/app": ["3"], "lab/blobs": [], "lab/web": []}}
    box = architecture({}, registry_contents(events), [])["registries"][0]
    assert box["facts"] == ["3 repositories", "1 tag"]
    assert box["contents"] == ["lab/app: 3", "lab/blobs: no tags", "lab/web: no tags"]


def test_with_nothing_seen_the_map_is_empty_and_says_so_by_its_empty_lists() -> None:
    assert architecture({}, {}, []) == {"daemons": [], "clients": [], "registries": [], "edges": [],
                                        "more": {"daemons": 0, "clients": 0, "registries": 0}, "host": None}


def test_a_daemon_the_watcher_cannot_reach_or_does_not_watch_says_so() -> None:
    unreachable = {"kind": "watcher-unreachable", "attributes": {"message": "there is no socket at that path"}}
    state = architecture({LAB_HOST: lab_inventory()}, {}, clients_seen(requests_of(scenario("pull"))),
                         watchers={LAB_HOST: unreachable})
    assert state["daemons"][0]["facts"] == [LAB_HOST, "unreachable: there is no socket at that path"]
    assert not state["daemons"][0]["reachable"]
    unwatched = architecture({}, {}, clients_seen(requests_of(scenario("pull"))))["daemons"][0]
    assert unwatched["facts"][1] == "not watched: its inventory is unknown" and unwatched["parts"][0]["count"] == 0


def test_a_registry_only_named_by_a_pull_is_drawn_and_says_nothing_was_heard_from_it() -> None:
    (registry,) = architecture({}, {}, clients_seen(requests_of(scenario("pull-unknown"))))["registries"]
    assert registry["facts"] == ["named by a request; no notifications heard"] and not registry["heard"]


def test_many_clients_and_long_lists_are_cut_and_counted() -> None:
    requests = []
    for number in range(MAX_CLIENTS + 3):
        for call in scenario("pull")[:1]:
            requests.append({**call, "id": number, "time_ns": str(number),
                             "attributes": {**call["attributes"], "user_agent": f"agent-{number}"}})
    state = architecture({}, {}, clients_seen(requests))
    assert [c["label"] for c in state["clients"]][:2] == [f"agent-{MAX_CLIENTS + 2}", f"agent-{MAX_CLIENTS + 1}"]
    assert (len(state["clients"]), state["more"]["clients"]) == (MAX_CLIENTS, 3)
    many = {"r": {f"repo{n:03}": ["1"] for n in range(MAX_CONTENTS + 5)}}
    registry = architecture({}, many, [])["registries"][0]
    assert (len(registry["contents"]), registry["more"]) == (MAX_CONTENTS, 5)


def test_asking_for_one_host_draws_that_daemon_and_its_clients_only() -> None:
    clients = clients_seen(requests_of(scenario("pull")))
    inventories = {LAB_HOST: lab_inventory(), "tcp://10.0.0.2:2376": Inventory().to_wire()}
    assert len(architecture(inventories, {}, clients)["daemons"]) == 2
    only = architecture(inventories, {}, clients, only="tcp://10.0.0.2:2376")
    assert [d["host"] for d in only["daemons"]] == ["tcp://10.0.0.2:2376"] and only["clients"] == []
    assert only["host"] == "tcp://10.0.0.2:2376"


@pytest.mark.parametrize("value", ["x" * 256, "unix:///a\x00b", "tcp://a\nb", "\u202eevil"],
                         ids=["too-long", "nul", "newline", "bidi-override"])
def test_a_host_asked_for_must_be_a_printable_address(value: str) -> None:
    with pytest.raises(QueryError, match="host must be a daemon's address"):
        host_from_query({"host": value})


def test_no_host_or_a_blank_one_means_every_daemon() -> None:
    assert host_from_query({}) is None and host_from_query({"host": "  "}) is None
    assert host_from_query({"host": LAB_HOST}) == LAB_HOST
