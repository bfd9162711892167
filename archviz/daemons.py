"""The daemons archviz talks to, and the one way to open a Docker client for one.

Every client archviz opens for a daemon (the watcher's event stream, the inventory, the pull action, the lab's
ping) comes from `open_client`, which gives the address the TLS settings it was configured with
(ARCHVIZ_DOCKER_HOSTS, read by archviz.docker_hosts, or DOCKER_TLS_VERIFY and DOCKER_CERT_PATH for DOCKER_HOST):
an address's certificates cannot be forgotten by one caller.
"""

from __future__ import annotations

import os
from contextlib import closing

import docker
import requests
from django.conf import settings
from docker.constants import MINIMUM_DOCKER_API_VERSION
from docker.errors import DockerException
from docker.tls import TLSConfig

from archviz.docker_hosts import DockerHost, from_docker_environment, unusable

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"


def docker_host() -> str:
    """The address the docker CLI and SDK would use, by the usual DOCKER_HOST rule."""
    return os.environ.get("DOCKER_HOST", "").strip() or DEFAULT_DOCKER_HOST


def watched_hosts() -> list[DockerHost]:
    """Every daemon to watch: ARCHVIZ_DOCKER_HOSTS, or else the one DOCKER_HOST names."""
    return list(settings.ARCHVIZ_DOCKER_HOSTS) or [from_docker_environment(docker_host(), os.environ)]


def checked_watched_hosts() -> list[DockerHost]:
    """`watched_hosts()`, or ValueError naming the setting and what is wrong with a host's TLS files: `watch` and
    `serve` refuse to start on one, rather than retry a connection that cannot work."""
    hosts = watched_hosts()
    if problems := [problem for host in hosts if (problem := unusable(host)) is not None]:
        setting = "ARCHVIZ_DOCKER_HOSTS" if settings.ARCHVIZ_DOCKER_HOSTS else "DOCKER_TLS_VERIFY and DOCKER_CERT_PATH"
        raise ValueError(f"{setting}: {'; '.join(problems)}")
    return hosts


def configured(address: str) -> DockerHost:
    """The daemon at `address` with its TLS settings: those it is watched with, or DOCKER_HOST's, or none."""
    known = [*settings.ARCHVIZ_DOCKER_HOSTS, from_docker_environment(docker_host(), os.environ)]
    return next((host for host in known if host.address == address), DockerHost(address))


def open_client(address: str, *, timeout: int, version: str = "auto", max_pool_size: int = 10
                ) -> docker.DockerClient:
    """A client for the daemon at `address`, over TLS (both ways verified) when it is configured so."""
    files = configured(address).tls_files()
    if files is None:
        return docker.DockerClient(base_url=address, version=version, timeout=timeout, max_pool_size=max_pool_size)
    ca, cert, key = files
    tls = TLSConfig(client_cert=(str(cert), str(key)), ca_cert=str(ca), verify=True)
    if version == "auto":
        # The SDK would ask for the daemon's API version while it builds the client, before `_own_ca` can act.
        with closing(_own_ca(docker.DockerClient(base_url=address, version=MINIMUM_DOCKER_API_VERSION,
                                                 timeout=timeout, tls=tls, max_pool_size=1))) as probe:
            try:
                version = probe.api.version(api_version=False)["ApiVersion"]
            except requests.exceptions.RequestException as error:
                raise DockerException(f"Error while fetching server API version: {error}") from error
    return _own_ca(docker.DockerClient(base_url=address, version=version, timeout=timeout, tls=tls,
                                       max_pool_size=max_pool_size))


def _own_ca(client: docker.DockerClient) -> docker.DockerClient:
    """The client, checking its daemon against the host's own ca.pem only.

    requests lets REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE) replace the CA a client was given, so a daemon signed by
    the host's own CA failed to verify wherever that variable is set (docker-py issue #2433). Without the
    environment, the environment's proxies are not used for the daemon either."""
    client.api.trust_env = False
    return client
