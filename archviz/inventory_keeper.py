"""Keeps one host's stored inventory current: a full load after every (re)connect of the watcher, then one
fresh look per daemon event at the objects that event names. Runs in a worker thread, fed by the watcher."""

from __future__ import annotations

import logging
from typing import Any

import docker
import requests
from docker.errors import DockerException

from archviz.inventory import KINDS, Inventory, changes, load, refreshed
from archviz.publish import publish_inventory

log = logging.getLogger(__name__)

RELOAD = "reload"


class InventoryKeeper:
    def __init__(self, address: str) -> None:
        self.address = address
        self.inventory: Inventory | None = None
        self.client: docker.DockerClient | None = None

    def handle(self, job: str | dict[str, Any]) -> bool:
        """`RELOAD`, or an observation (wire-shaped: kind and attributes) of a daemon event. False when the
        inventory could not be kept (the caller asks for a reload later)."""
        try:
            client = self.client or docker.DockerClient(base_url=self.address, version="auto", timeout=30)
            self.client = client
            if job == RELOAD or self.inventory is None:
                fresh = load(client)
                publish_inventory(self.address, changes(Inventory(), fresh), reload=True)
                self.inventory = fresh
            elif job["kind"].partition("-")[0] in KINDS:
                updated, touched = refreshed(client, self.inventory, job)
                found = changes(self.inventory, updated, touched)
                if found:
                    publish_inventory(self.address, found)
                self.inventory = updated
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
