"""docker-py's `test_attach_no_stream`, direct and through the tap: how often does the container's output go missing?

docker-py reads an attach's `101` through a buffered reader and the frames after it from the socket under that
reader, so frames that reach the client in the same read as the `101` head are lost (docker-py issues #2042,
#3332). Starts its own lab and `manage.py tap` in front of the lab daemon, then runs the test's scenario
(create a container that runs `echo hello`, start it, `attach(stream=False, logs=True)`, expect `hello`) RUNS
times direct and RUNS times through the tap, alternating, and prints how many runs got no `hello` each way.
Run: .venv/bin/python bench/attach_no_stream.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

import django  # noqa: E402

django.setup()

import docker  # noqa: E402

from bench.tapped_lab import tapped_lab  # noqa: E402


def output_goes_missing(client: docker.APIClient, image: str) -> bool:
    """One run of docker-py's test_attach_no_stream; True if the attach did not return the container's output."""
    container = client.create_container(image, "echo hello")
    try:
        client.start(container)
        return client.attach(container, stream=False, logs=True) != b"hello\n"
    finally:
        client.remove_container(container, force=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    runs = parser.parse_args().runs
    with tapped_lab("avattb") as (lab, listen):
        clients = {"direct": docker.APIClient(base_url=lab.docker_host, version="1.41"),
                   "through the tap": docker.APIClient(base_url=f"unix://{listen}", version="1.41")}
        missing = dict.fromkeys(clients, 0)
        # Direct and tapped runs alternate, so that whatever else the machine does weighs on both alike.
        for _ in range(runs):
            for way, client in clients.items():
                missing[way] += output_goes_missing(client, lab.base_image)
        print(", ".join(f"{way}: output missing in {count} of {runs} runs" for way, count in missing.items()))
        for client in clients.values():
            client.close()


if __name__ == "__main__":
    main()
