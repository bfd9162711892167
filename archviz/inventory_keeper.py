"""Keeps one host's stored inventory current: a full load after every (re)connect of the watcher, then one
fresh look per daemon event at the objects that event names. Runs in a worker thread, fed by the watcher."""

from __future__ import annotations

import logging
from typing import Any

import docker
import requests
from docker.errors import DockerException

from archviz.daemons import open_client
from archviz.inventory import KINDS, Inventory, changes, layers_of, load, refreshed
from archviz.publish import publish_inventory

log = logging.getLogger(__name__)

RELOAD = "reload"
LOAD_WORKERS = 16
LAYER_BATCH = 100


class InventoryKeeper:
    def __init__(self, address: str) -> None:
        self.address = address
        self.inventory: Inventory | None = None
        # The last inventory seen, kept across a lost connection: its images' layers need not be fetched again.
        self.known: Inventory | None = None
        self.client: docker.DockerClient | None = None

    def _reload(self, client: docker.DockerClient) -> None:
        """1. Store the whole inventory at once, without the layers of images not seen before (two calls each).
        2. Then fetch those layers a batch at a time, storing each batch as it comes: the page shows
           containers and images at once, and the layers follow."""
        fresh = load(client, LOAD_WORKERS, known=self.known, with_layers=False)
        publish_inventory(self.address, changes(Inventory(), fresh), reload=True)
        self.inventory = self.known = fresh
        pending = [key for key, image in fresh.images.items() if image["layers"] is None]
        for start in range(0, len(pending), LAYER_BATCH):
            found = layers_of(client, pending[start:start + LAYER_BATCH], LOAD_WORKERS)
            updated = self.inventory.copy()
            for key, layers in found.items():
                if key in updated.images:
                    updated.images[key] = {**updated.images[key], "layers": layers}
            touched = {("image", key) for key in found}
            publish_inventory(self.address, changes(self.inventory, updated, touched))
            self.inventory = self.known = updated

    def handle_all(self, jobs: list[str | dict[str, Any]]) -> bool:
        """`handle` each job in order; False (and the rest skipped) once one could not be kept."""
        return all(self.handle(job) for job in jobs)

    def handle(self, job: str | dict[str, Any]) -> bool:
        """`RELOAD`, or an observation (wire-shaped: kind and attributes) of a daemon event. False when the
        inventory could not be kept (the caller asks for a reload later)."""
        try:
            client = self.client or open_client(self.address, timeout=30, max_pool_size=LOAD_WORKERS)
            self.client = client
            if job == RELOAD or self.inventory is None:
                self._reload(client)
            elif job["kind"].partition("-")[0] in KINDS:
                updated, touched = refreshed(client, self.inventory, job)
                found = changes(self.inventory, updated, touched)
                if found:
                    publish_inventory(self.address, found)
                self.inventory = self.known = updated
        except (DockerException, requests.exceptions.RequestException) as error:
            log.warning("inventory of %s not updated: %s", self.address, error)
        except Exception:  # a daemon answering nonsense must not stop the watcher
            log.exception("inventory of %s not updated", self.address)
        else:
            return True
        self.inventory = None
        if self.client is not None:
            self.client.close()
            self.client = None
        return False
