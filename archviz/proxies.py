"""Who the client is, behind a reverse proxy: ARCHVIZ_TRUSTED_PROXIES read in one place, and X-Forwarded-For read
only when a proxy named there sent it.

What must stay true:
- A peer that is not a trusted proxy is the client, whatever headers it sends: anyone can write X-Forwarded-For.
- From a trusted proxy, the client is the rightmost hop of X-Forwarded-For that is not itself a trusted proxy: each
  proxy appends the address it saw, so everything left of that hop was written by the client and proves nothing.
- A hop that is not an address (a proxy that passed a client's junk on) is never the client: the nearest trusted
  proxy stands for it, so junk cannot buy a fresh count from the login page's limit.
- Every address comes out in one spelling (`::ffff:192.0.2.1` is `192.0.2.1`, ports dropped), so one client is one
  key wherever it is counted.
Standard library only: the settings import it.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def trusted_proxies(entries: list[str]) -> tuple[Network, ...]:
    """Addresses (`10.0.0.5`, `::1`) and networks (`10.0.0.0/24`); ValueError saying what to write instead."""
    networks = []
    for entry in entries:
        try:
            network = ipaddress.ip_network(entry, strict=True)
        except ValueError:
            try:
                loose = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an address or a network: write each proxy as 10.0.0.5, "
                                 "10.0.0.0/24 or fd00::/64, separated by commas") from None
            raise ValueError(f"{entry!r} has bits set past its prefix: write the network as {loose}") from None
        if network.prefixlen == 0:
            raise ValueError(f"{entry!r} trusts every address, so any client could name its own address: "
                             "name your proxies' addresses or networks instead")
        networks.append(network)
    return tuple(networks)


def client_address(peer: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The client's address: `peer` itself, unless it is a trusted proxy that said whom it forwards for."""
    nearest = _address(peer)
    if nearest is None:  # not an IP peer (a unix socket's, or none): nothing to see through
        return peer
    if not forwarded_for or not _trusted(nearest, trusted):
        return str(nearest)
    for hop in reversed(forwarded_for.split(",")):
        address = _address(hop.strip())
        if address is None:
            break
        nearest = address
        if not _trusted(address, trusted):
            break
    return str(nearest)


def is_trusted(peer: str, networks: Sequence[Network]) -> bool:
    """Whether `peer` is one of the trusted proxies (whose X-Forwarded-* headers are believed)."""
    address = _address(peer)
    return address is not None and _trusted(address, networks)


def forwarded_for(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """Every X-Forwarded-For header of an ASGI request, in order, as one comma-separated list (as Django joins
    repeated headers)."""
    return ",".join(value.decode("latin-1") for name, value in headers if name.lower() == b"x-forwarded-for")


def _trusted(address: Address, networks: Sequence[Network]) -> bool:
    return any(address in network for network in networks)


@functools.lru_cache(maxsize=4096)
def _address(text: str) -> Address | None:
    """An IP address, without a port (`192.0.2.1:5000`, `[2001:db8::1]:443`), IPv4-mapped IPv6 as IPv4. (Kept for
    the addresses seen last: a registry's deliveries all come from one.)"""
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
