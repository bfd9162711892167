from __future__ import annotations

import json
from pathlib import Path

from archviz.inventory import Inventory, apply, changes, container_item, image_item, image_layers, repository_of

DATA = Path(__file__).parent / "data" / "inventory"
IMAGE = json.loads((DATA / "image_layers.json").read_text())
CONTAINERS = json.loads((DATA / "containers.json").read_text())
# `docker pull nginx` from the lab's Docker Hub stand-in, and `lesson-app` built FROM alpine:3.18 there.
STAND_INS = json.loads((DATA / "stand_ins.json").read_text())


def test_an_image_built_in_steps_has_one_layer_per_filesystem_step_oldest_first() -> None:
    image = image_item(IMAGE["summary"], IMAGE["history"], IMAGE["inspect"])
    assert [layer["created_by"] for layer in image["layers"]] == [
        "Imported from -", "/bin/sh -c echo one > /one", "/bin/sh -c echo two > /two",
    ]
    assert [layer["id"] for layer in image["layers"]] == IMAGE["inspect"]["RootFS"]["Layers"]
    assert image["layers"][0]["size"] > 1_000_000 and image["layers"][1]["size"] == 4
    assert image["tags"] == ["rec/layers:1"]


def test_an_image_the_lab_built_to_stand_in_for_a_docker_hub_one_says_so() -> None:
    recorded = STAND_INS["stand_in"]
    listed = image_item(recorded["summary"], recorded["history"], recorded["inspect"])
    assert listed["stand_in"] == {
        "stands_for": "nginx", "badge": "lab stand-in",
        "sentence": "A lab stand-in for Docker Hub's nginx, not the real image: archviz built it offline from "
                    "Debian's busybox-static, so the lessons' commands work with no internet."}
    assert [layer["created_by"].split(" #")[0] for layer in listed["layers"]] == [
        "COPY busybox /bin/busybox", "RUN busybox --install -s /bin", "COPY archviz-stand-in os-release /etc/",
        "COPY /usr/sbin/nginx /usr/share/nginx/html/index.html"]
    inspected = image_item({"Id": recorded["inspect"]["Id"], "RepoTags": recorded["inspect"]["RepoTags"]}, [],
                           recorded["inspect"])
    assert inspected["stand_in"] == listed["stand_in"]


def test_an_image_built_on_a_stand_in_inherits_its_label_and_is_said_to_be_built_on_one() -> None:
    recorded = STAND_INS["built_on_stand_in"]
    image = image_item(recorded["summary"], recorded["history"], recorded["inspect"])
    assert image["tags"] == ["lesson-app:latest"]
    assert image["stand_in"]["badge"] == "built on a lab stand-in"
    assert image["stand_in"]["sentence"].startswith("Built on the lab's stand-in for Docker Hub's alpine, not on the "
                                                    "real alpine image")


def test_an_image_with_no_stand_in_label_is_shown_as_itself() -> None:
    assert image_item(IMAGE["summary"], IMAGE["history"], IMAGE["inspect"])["stand_in"] is None


def test_a_reference_names_its_repository_as_docker_hub_shortens_it() -> None:
    assert [repository_of(reference) for reference in (
        "nginx:latest", "nginx@sha256:47f5", "docker.io/library/alpine:3.18", "127.0.0.1:5000/lab/busybox:1",
        "localhost:5000/web")] == ["nginx", "nginx", "alpine", "127.0.0.1:5000/lab/busybox", "localhost:5000/web"]


def test_layers_whose_history_does_not_line_up_keep_their_ids_without_sizes() -> None:
    layers = image_layers(IMAGE["history"][:1], ["sha256:a", "sha256:b"])
    assert layers == [{"id": "sha256:a", "size": None, "created_by": ""},
                      {"id": "sha256:b", "size": None, "created_by": ""}]


def test_a_listed_container_and_an_inspected_one_are_the_same_item() -> None:
    exited = CONTAINERS["rec-exited"]
    assert container_item(exited["list"]) == container_item(exited["inspect"])
    item = container_item(exited["inspect"])
    assert (item["name"], item["state"], item["exit_code"], item["started"]) == ("rec-exited", "exited", 3, None)
    running = container_item(CONTAINERS["rec-running"]["inspect"])
    assert running["state"] == "running" and running["started"] and running["volumes"] == ["vol-a"]
    listed = container_item(CONTAINERS["rec-running"]["list"])
    assert {**listed, "started": running["started"]} == running


def inventory_with(*containers: dict) -> Inventory:
    image = image_item(IMAGE["summary"], IMAGE["history"], IMAGE["inspect"])
    return Inventory(images={image["id"]: image}, containers={c["id"]: c for c in containers},
                     volumes={"vol-a": {"id": "vol-a", "name": "vol-a", "driver": "local", "mountpoint": "/v"}})


def test_a_new_container_also_changes_the_image_and_volume_it_uses() -> None:
    before = inventory_with()
    running = container_item(CONTAINERS["rec-running"]["inspect"])
    after = inventory_with(running)
    found = changes(before, after)
    assert [(c.op, c.kind) for c in found] == [("upsert", "image"), ("upsert", "container"), ("upsert", "volume")]
    assert found[0].item["containers"] == [running["id"]]
    assert found[2].item["containers"] == [running["id"]]


def test_old_state_plus_changes_equals_the_new_state() -> None:
    exited = container_item(CONTAINERS["rec-exited"]["inspect"])
    running = container_item(CONTAINERS["rec-running"]["inspect"])
    steps = [inventory_with(), inventory_with(exited), inventory_with(exited, running), inventory_with(running),
             Inventory()]
    wire = steps[0].to_wire()
    for before, after in zip(steps, steps[1:], strict=False):
        wire = apply(wire, [change.to_wire() for change in changes(before, after)])
        assert wire == after.to_wire()


def test_nothing_changed_means_no_changes() -> None:
    assert changes(inventory_with(), inventory_with()) == []


def test_looking_only_at_what_an_event_touched_finds_the_same_changes() -> None:
    exited = container_item(CONTAINERS["rec-exited"]["inspect"])
    running = container_item(CONTAINERS["rec-running"]["inspect"])
    before, after = inventory_with(exited), inventory_with(exited, running)
    assert changes(before, after, {("container", running["id"])}) == changes(before, after)
    assert changes(after, before, {("container", running["id"])}) == changes(after, before)
