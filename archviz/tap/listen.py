"""Where the API tap listens: a unix socket, or TCP with TLS and client certificates; plain TCP only on loopback
and only when asked for in so many words.

1. Read the address: `unix:///PATH` or `tcp://HOST:PORT` (an IPv6 host in brackets, as in `tcp://[::1]:2375`).
2. Take the three TLS files (CA, certificate, key, as dockerd's --tlscacert/--tlscert/--tlskey) all together or
   not at all, and only for TCP: a unix socket is guarded by its owner and mode instead.
3. Refuse TCP without them: whoever reaches the port drives the daemon, which is root. On loopback that is every
   local user, so plain TCP there needs the explicit opt-in (`--insecure-loopback`, ARCHVIZ_TAP_INSECURE_LOOPBACK),
   and whoever starts the tap says so, loudly (`plain_tcp_warning`); off loopback nothing makes it acceptable.
4. Load them into a server context that refuses, at the handshake, every client whose certificate that CA did
   not sign; the TLS itself is archviz.tap.tls's, which keeps the half-closes that docker attach relies on.
Every refusal is a ValueError whose message names the option (or setting) to change, in the caller's words.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from archviz.tap.tls import TlsServer, server_context

UNIX_PATH_LIMIT = 107  # bytes, with room for the terminating NUL in sockaddr_un
HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*")


@dataclass(frozen=True)
class Names:
    """What the person configuring the tap calls the address, the three TLS files and the opt-in to plain TCP on
    loopback (for error messages)."""

    address: str
    ca: str
    cert: str
    key: str
    insecure: str


PLAIN_TCP_RISK = ("any local user who can reach that port drives the Docker daemon, which is root. Listen on a unix "
                  "socket (unix:///PATH) or with TLS instead.")


def plain_tcp_warning(listen: TcpAddress) -> str:
    """What the tap says, loudly, whenever it listens on plain TCP."""
    return f"WARNING: the API tap listens on {listen.url} without TLS: {PLAIN_TCP_RISK}"


@dataclass(frozen=True)
class TcpAddress:
    host: str
    port: int
    tls: ssl.SSLContext | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"


Listen = Path | TcpAddress  # a unix socket is its path


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def url(listen: Listen) -> str:
    """The address as clients give it in DOCKER_HOST."""
    return f"unix://{listen}" if isinstance(listen, Path) else listen.url


def listen_at(address: str, ca: str | None, cert: str | None, key: str | None, names: Names, *,
              insecure_loopback: bool = False) -> Listen:
    """Where to listen, from an address, the TLS files (None or empty when not given) and the opt-in to plain TCP
    on loopback; ValueError if not."""
    files = (ca, cert, key)
    if any(files) and not all(files):
        given = {names.ca: ca, names.cert: cert, names.key: key}
        missing = " and ".join(name for name, value in given.items() if not value)
        raise ValueError(f"TLS needs all three of {names.ca}, {names.cert} and {names.key}: {missing} is missing")
    if address.startswith("unix://"):
        if any(files):
            raise ValueError(f"{names.ca}, {names.cert} and {names.key} apply to tcp:// only: a unix socket is "
                             f"guarded by its owner and mode (drop them, or give {names.address} tcp://HOST:PORT)")
        return _unix_path(address, names)
    if not address.startswith("tcp://"):
        raise ValueError(f"{names.address} {address!r} is neither unix:///PATH nor tcp://HOST:PORT")
    host, port = _host_and_port(address, names)
    if not (ca and cert and key):
        if not is_loopback(host):
            raise ValueError(f"{names.address} {address!r} is off loopback, where anyone who reaches the port "
                             f"could drive the daemon: give {names.ca}, {names.cert} and {names.key} (TLS with "
                             "client certificates), or listen on a unix socket")
        if not insecure_loopback:
            raise ValueError(f"{names.address} {address!r} is plain TCP: any local user who can reach the port "
                             "would drive the daemon, which is root. Listen on a unix socket (unix:///PATH, guarded "
                             f"by its owner and mode), or give {names.ca}, {names.cert} and {names.key} (TLS with "
                             f"client certificates); or, knowing that, set {names.insecure}")
        return TcpAddress(host, port)
    return TcpAddress(host, port, server_context(ca, cert, key, (names.ca, names.cert, names.key)))


async def start_server(listen: Listen, protocol: Callable[[], asyncio.Protocol]) -> asyncio.AbstractServer:
    """Listen there, each connection served by a new `protocol()` (under archviz.tap.tls's TLS when configured)."""
    loop = asyncio.get_running_loop()
    if isinstance(listen, Path):
        listen.unlink(missing_ok=True)  # a socket left by a tap that did not stop cleanly
        return await loop.create_unix_server(protocol, path=str(listen))
    if listen.tls is None:
        return await loop.create_server(protocol, listen.host, listen.port)
    context = listen.tls
    return await loop.create_server(lambda: TlsServer(context, protocol), listen.host, listen.port)


def _unix_path(address: str, names: Names) -> Path:
    path = address.removeprefix("unix://")
    if not path:
        raise ValueError(f"{names.address} {address!r} names no socket, as in unix:///run/archviz.sock")
    if len(os.fsencode(path)) > UNIX_PATH_LIMIT:
        raise ValueError(f"{names.address} {address!r} is longer than a unix socket path may be "
                         f"({UNIX_PATH_LIMIT} bytes): choose a shorter one")
    return Path(path)


def _host_and_port(address: str, names: Names) -> tuple[str, int]:
    host, colon, port = address.removeprefix("tcp://").rpartition(":")
    example = "as in tcp://127.0.0.1:2375"
    if not colon or not host or not port:
        raise ValueError(f"{names.address} {address!r} needs a host and a port, {example}")
    if not re.fullmatch(r"[0-9]{1,5}", port) or not 0 < int(port) < 65536:
        raise ValueError(f"{names.address} {address!r}: {port!r} is not a TCP port (1-65535), {example}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{names.address} {address!r}: [{host}] is not an IPv6 address") from None
    elif ":" in host:
        raise ValueError(f"{names.address} {address!r}: write an IPv6 host in brackets, as in tcp://[::1]:2375")
    elif re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ValueError(f"{names.address} {address!r}: {host} is not an IPv4 address") from None
    elif not HOST_NAME.fullmatch(host):
        raise ValueError(f"{names.address} {address!r}: {host!r} is not a host name or an IP address")
    return host, int(port)
