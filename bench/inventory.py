"""Inventory at scale: snapshot time for a daemon with 1,000 images and 1,000 containers, and delta throughput.

Starts its own lab, imports 1,000 distinct one-layer images and creates 1,000 containers (20 of them
running), then prints
- the full load from the daemon (what happens on every watcher connect) and the load + store + snapshot read;
- the delta throughput of the inventory itself: container events applied with their inspect payloads already
  fetched (the pure part: copy, refresh, relations, changes), in events/s;
- the same end to end, each event asking the real daemon for the container it names (one inspect per event).
Run: .venv/bin/python bench/inventory.py [--images N] [--containers N]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
os.environ["ARCHVIZ_DATA_DIR"] = tempfile.mkdtemp(prefix="avbench-inventory-")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from docker.errors import NotFound  # noqa: E402

from archviz.inventory import Inventory, changes, load, refreshed  # noqa: E402
from archviz.inventory_keeper import LOAD_WORKERS  # noqa: E402
from archviz.lab import Lab  # noqa: E402
from archviz.publish import publish_inventory  # noqa: E402
from archviz.snapshot import inventory_snapshot  # noqa: E402
from tests.conftest import free_port  # noqa: E402


def tiny_rootfs(number: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        data = f"image {number}\n".encode()
        info = tarfile.TarInfo(f"etc/number-{number}")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class Prefetched:
    """The Engine API calls the inventory makes for container events, answered from payloads fetched before
    the clock starts (running, exited, or gone), so that the figure is the inventory's own work."""

    def __init__(self, running: dict[str, dict]) -> None:
        self.api = self
        self.running = running
        self.state: dict[str, str] = {}

    def inspect_container(self, key: str) -> dict:
        state = self.state.get(key, "running")
        if state == "gone":
            raise NotFound(f"no such container: {key}")
        payload = self.running[key]
        if state == "exited":
            payload = {**payload, "State": {**payload["State"], "Status": "exited", "Running": False, "ExitCode": 0}}
        return payload


def event_mix(ids: list[str], count: int) -> list[tuple[str, str, str]]:
    """(event kind, container id, what the daemon then says), like a busy host: starts and exits, and every
    tenth a container removed and one created (which changes the image and volumes that it uses)."""
    kinds = [("container-die", "exited"), ("container-start", "running")] * 4 + [
        ("container-destroy", "gone"), ("container-create", "running")]
    return [(kinds[n % len(kinds)][0], ids[(n // len(kinds)) % len(ids)], kinds[n % len(kinds)][1])
            for n in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--containers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=4000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    lab = Lab(Path(tempfile.mkdtemp(prefix="avinv-", dir="/tmp")), registry_port=free_port(),
              auth_registry_port=free_port())
    lab.up(say=lambda line: None)
    client = lab.client(timeout=120)
    try:
        started = time.perf_counter()
        for number in range(args.images):
            client.api.import_image_from_data(tiny_rootfs(number), repository=f"bench/image-{number}", tag="1")
        ids = []
        for number in range(args.containers):
            running = number < 20
            container = client.api.create_container(
                lab.base_image, ["sleep", "600"] if running else ["true"], name=f"bench-{number}",
                host_config=client.api.create_host_config(network_mode="none"))
            ids.append(container["Id"])
            if running:
                client.api.start(container["Id"])
        print(f"made {args.images} images and {args.containers} containers in {time.perf_counter() - started:.0f} s")

        client.close()
        client = lab.client(timeout=120, max_pool_size=LOAD_WORKERS)
        cold, first, warm, stores = [], [], [], []
        for _ in range(3):
            started = time.perf_counter()
            inventory = load(client, LOAD_WORKERS, with_layers=False)
            first.append(time.perf_counter() - started)
            started = time.perf_counter()
            inventory = load(client, LOAD_WORKERS)
            cold.append(time.perf_counter() - started)
            started = time.perf_counter()
            inventory = load(client, LOAD_WORKERS, known=inventory)
            loaded = time.perf_counter()
            publish_inventory(lab.docker_host, changes(Inventory(), inventory), reload=True)
            inventory_snapshot()
            warm.append(loaded - started)
            stores.append(time.perf_counter() - loaded)
        print(f"inventory: {len(inventory.images)} images, {len(inventory.containers)} containers")
        print(f"snapshot: a first load without layers (what the page shows at once) median "
              f"{statistics.median(first):.2f} s; with every image's layers median {statistics.median(cold):.2f} s; "
              f"a reload after a reconnect (layers known) median {statistics.median(warm):.2f} s; storing it and "
              f"reading the snapshot back median {statistics.median(stores):.2f} s (target <= 1 s)")

        prefetched = Prefetched({key: client.api.inspect_container(key) for key in ids})
        mix = event_mix(ids, args.events)
        current = inventory
        found = 0
        started = time.perf_counter()
        for kind, key, state in mix:
            prefetched.state[key] = state
            updated, touched = refreshed(prefetched, current, {"kind": kind, "attributes": {"id": key}})
            found += len(changes(current, updated, touched))
            current = updated
        pure = len(mix) / (time.perf_counter() - started)
        current = inventory
        started = time.perf_counter()
        for _kind, key, _state in mix[:1000]:
            updated, touched = refreshed(client, current, {"kind": "container-start", "attributes": {"id": key}})
            changes(current, updated, touched)
            current = updated
        live = 1000 / (time.perf_counter() - started)
        print(f"deltas: {pure:,.0f} events/s through the inventory ({len(mix)} events, {found} changes; payloads "
              f"prefetched); {live:,.0f} events/s with one real inspect per event (target >= 2,000 events/s)")
    finally:
        client.close()
        lab.down(say=lambda line: None)


if __name__ == "__main__":
    main()
