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

from archviz.inventory import Inventory, changes, load, refreshed  # noqa: E402
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
    the clock starts, so that the figure is the inventory's own work."""

    def __init__(self, payloads: dict[str, dict]) -> None:
        self.api = self
        self.payloads = payloads

    def inspect_container(self, key: str) -> dict:
        return self.payloads[key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--containers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=4000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    lab = Lab(Path(tempfile.mkdtemp(prefix="avinv-", dir="/tmp")), registry_port=free_port())
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

        loads, stores = [], []
        for _ in range(3):
            started = time.perf_counter()
            inventory = load(client)
            loaded = time.perf_counter()
            publish_inventory(lab.docker_host, changes(Inventory(), inventory), reload=True)
            inventory_snapshot()
            loads.append(loaded - started)
            stores.append(time.perf_counter() - started)
        print(f"inventory: {len(inventory.images)} images, {len(inventory.containers)} containers")
        print(f"snapshot: load from the daemon median {statistics.median(loads):.2f} s; load + store + read "
              f"median {statistics.median(stores):.2f} s (target <= 1 s)")

        payloads = {key: client.api.inspect_container(key) for key in ids}
        events = [{"kind": "container-start", "attributes": {"id": ids[n % len(ids)]}} for n in range(args.events)]
        prefetched = Prefetched(payloads)
        current = inventory
        started = time.perf_counter()
        for event in events:
            updated, touched = refreshed(prefetched, current, event)
            changes(current, updated, touched)
            current = updated
        pure = args.events / (time.perf_counter() - started)
        current = inventory
        started = time.perf_counter()
        for event in events[:1000]:
            updated, touched = refreshed(client, current, event)
            changes(current, updated, touched)
            current = updated
        live = 1000 / (time.perf_counter() - started)
        print(f"deltas: {pure:,.0f} events/s through the inventory (payloads prefetched); "
              f"{live:,.0f} events/s with one real inspect per event (target >= 2,000 events/s)")
    finally:
        client.close()
        lab.down(say=lambda line: None)


if __name__ == "__main__":
    main()
