"""Actions that change the daemon, started from the dashboard. For now: pulling an image.

Safe by default: an action needs ARCHVIZ_ALLOW_ACTIONS and a staff login (checked by the views). Each is
recorded as an Observation naming the user. Registry credentials are handed to the daemon once, in the
request that needs them, and are never kept on the job, stored, logged or shown.

1. `create_pull` checks nothing more (the view has) and registers a job every viewer can see.
2. `run_pull` records who started it, streams the daemon's progress into the job's state, broadcasting it
   as it changes (at most ten times a second, and at every stage change), then records how it ended.
3. `cancel` closes the job's stream: the daemon stops a pull whose client went away.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import requests
from docker.auth import encode_header
from docker.errors import DockerException
from docker.types import CancellableStream

from archviz.daemons import open_client
from archviz.observation import Observation, Source
from archviz.publish import publish, publish_pull
from archviz.pull_progress import PullState, apply_line, plain_error

log = logging.getLogger(__name__)
KEEP_JOBS = 20
BROADCAST_EVERY = 0.1
CANCELLED = "Cancelled: the daemon stopped the pull."

_ids = itertools.count(1)
_lock = threading.Lock()
JOBS: OrderedDict[str, PullJob] = OrderedDict()


@dataclass
class PullJob:
    id: str
    host: str
    repository: str
    tag: str
    user: str
    state: PullState
    stream: CancellableStream | None = field(default=None, repr=False)
    cancelled: bool = False

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "host": self.host, "user": self.user, **self.state.to_wire()}


def create_pull(host: str, repository: str, tag: str, user: str) -> PullJob:
    separator = "@" if tag.startswith("sha256:") else ":"
    job = PullJob(f"pull-{next(_ids)}", host, repository, tag, user, PullState(f"{repository}{separator}{tag}"))
    with _lock:
        JOBS[job.id] = job
        while len(JOBS) > KEEP_JOBS:
            JOBS.popitem(last=False)
    publish_pull(job.to_wire())
    return job


def pulls() -> list[dict[str, Any]]:
    with _lock:
        return [job.to_wire() for job in JOBS.values()]


def cancel(job_id: str) -> bool:
    with _lock:
        job = JOBS.get(job_id)
    if job is None or job.state.status in ("done", "failed", "cancelled"):
        return False
    job.cancelled = True
    if job.stream is not None:
        job.stream.close()
    return True


def run_pull(job: PullJob, credentials: dict[str, str] | None) -> None:
    _record(job, "action-pull", "")
    client = open_client(job.host, timeout=30)
    try:
        api = client.api
        headers = {"X-Registry-Auth": encode_header(credentials)} if credentials else {}
        # The SDK's own pull() hides the response, so it cannot be cancelled; this is the same request.
        response = api._post(api._url("/images/create"), params={"fromImage": job.repository, "tag": job.tag},
                             headers=headers, stream=True, timeout=None)
        credentials = headers = None  # used once
        api._raise_for_status(response)
        job.stream = CancellableStream(api._stream_helper(response, decode=True), response)
        sizes: dict[str, int] = {}
        if job.cancelled:
            job.stream.close()
        last_sent, last_stages = 0.0, None
        finished: set[str] = set()
        for line in job.stream:
            job.state = apply_line(job.state, line)
            for layer in job.state.layers:
                if layer.stage in ("Pull complete", "Already exists") and layer.id not in finished:
                    finished.add(layer.id)
                    _record(job, "action-pull-layer", layer.stage, layer=layer.id, size=sizes.get(layer.id, 0),
                            layers=len(job.state.layers))
                elif layer.stage == "Downloading" and layer.total:
                    sizes[layer.id] = layer.total
            stages = [layer.stage for layer in job.state.layers]
            if stages != last_stages or time.monotonic() - last_sent >= BROADCAST_EVERY:
                publish_pull(job.to_wire())
                last_sent, last_stages = time.monotonic(), stages
        if job.cancelled:
            job.state = _ended(job.state, "cancelled", CANCELLED)
        elif job.state.status != "failed":
            job.state = _ended(job.state, "done", job.state.message or "Pulled.")
    except (DockerException, requests.exceptions.RequestException, ValueError) as error:
        if job.cancelled:
            job.state = _ended(job.state, "cancelled", CANCELLED)
        else:
            job.state = _ended(job.state, "failed", plain_error(_explain(error)))
    finally:
        client.close()
    publish_pull(job.to_wire())
    ending = job.state.status if job.state.status in ("done", "cancelled") else "failed"
    _record(job, f"action-pull-{ending}", job.state.message)


def _ended(state: PullState, status: str, message: str) -> PullState:
    return PullState(state.reference, status, message, state.layers)


def _explain(error: BaseException) -> str:
    explanation = getattr(error, "explanation", None)
    return str(explanation or error)[:500]


def _record(job: PullJob, kind: str, message: str, **details: Any) -> None:
    publish([Observation(
        time_ns=time.time_ns(), source=Source.ACTION, host=job.host, kind=kind, subject=job.state.reference,
        attributes={"user": job.user, "job": job.id, "message": message, **details},
        correlation=job.id,
    )])
