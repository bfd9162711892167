"""Which daemons archviz is told to watch, and how to reach each: ARCHVIZ_DOCKER_HOSTS read in one place.

The variable is a comma-separated list of Docker addresses, each with its own TLS settings:

    unix:///var/run/docker.sock, tcp://build1.example:2376?tls=/etc/archviz/build1

- `unix:///PATH`: a daemon's socket on this machine (its file permissions guard it; TLS is not used there).
- `tcp://HOST:PORT`: a daemon listening on TCP, in plain HTTP.
- `tcp://HOST:PORT?tls=DIR`: the same over TLS, both ways verified, as `docker --tlsverify` with
  DOCKER_CERT_PATH=DIR: the daemon's certificate must be signed by DIR/ca.pem and name HOST, and archviz shows it
  DIR/cert.pem (with its key DIR/key.pem), which the daemon's `--tlscacert` must have signed.

The address before `?` is the host's name everywhere archviz shows it (diagram, inventory, /readyz); the folder
never leaves this module's callers. Parsing is pure (`parse_hosts`); `unusable` looks at the files, where a
process is about to use them. Standard library only: the settings import it.
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

# The files of a DOCKER_CERT_PATH folder (the docker CLI's names), and what each must hold.
CERT_FILES = (
    ("ca.pem", "the CA certificate that signed the daemon's certificate"),
    ("cert.pem", "the client certificate archviz shows the daemon, signed by the CA the daemon trusts"),
    ("key.pem", "the unencrypted private key of cert.pem"),
)
# The options an address may carry after `?`, and what each takes.
OPTIONS = {"tls": "the absolute path of a folder holding ca.pem, cert.pem and key.pem (as DOCKER_CERT_PATH)"}
# A host name or IPv4 address, or an IPv6 address in brackets.
HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]")
EXAMPLES = "unix:///var/run/docker.sock or tcp://HOST:PORT?tls=/path/to/certs"


@dataclass(frozen=True)
class DockerHost:
    """One daemon: its address (as shown everywhere) and, for TLS, the folder of its certificates."""

    address: str
    cert_path: Path | None = None

    def tls_files(self) -> tuple[Path, Path, Path] | None:
        """ca.pem, cert.pem and key.pem in the folder, or None without TLS."""
        if self.cert_path is None:
            return None
        return self.cert_path / "ca.pem", self.cert_path / "cert.pem", self.cert_path / "key.pem"


def parse_host(entry: str) -> DockerHost:
    """One entry of ARCHVIZ_DOCKER_HOSTS; ValueError saying what to write instead."""
    if not entry.isprintable() or any(character.isspace() for character in entry):
        raise ValueError(f"{entry!r} holds a space or a control character: write each address as {EXAMPLES}, "
                         "separated by commas (percent-encode a space or comma in a folder's name)")
    address, _, query = entry.partition("?")
    try:
        parts = urlsplit(address)
    except ValueError:  # an unclosed bracket
        parts = urlsplit("")
    if parts.scheme not in ("unix", "tcp") or "#" in entry:
        raise ValueError(f"{entry!r} is not a Docker address archviz can watch: use {EXAMPLES}")
    options = _options(entry, query)
    if parts.scheme == "unix":
        if parts.netloc or not parts.path.startswith("/"):
            raise ValueError(f"{entry!r}: a unix socket is named by its absolute path, as in "
                             "unix:///var/run/docker.sock (three slashes)")
        if options:
            raise ValueError(f"{entry!r}: TLS is for tcp:// addresses; a unix socket is guarded by its file "
                             "permissions. Remove the ?tls=… part")
        return DockerHost(address)
    _check_tcp(entry, parts.netloc, parts.path)
    folder = options.get("tls")
    if folder is None:
        return DockerHost(address)
    if not folder.startswith("/") or not folder.isprintable():
        raise ValueError(f"{entry!r}: tls={folder!r} must be an absolute path (the folder of ca.pem, cert.pem and "
                         "key.pem), as in ?tls=/etc/archviz/build1")
    return DockerHost(address, Path(os.path.normpath(folder)))


def parse_hosts(entries: list[str]) -> list[DockerHost]:
    """Every entry, in order, each once; ValueError when one is junk or an address is given two TLS settings."""
    hosts: dict[str, DockerHost] = {}
    for host in map(parse_host, entries):
        known = hosts.setdefault(host.address, host)
        if known != host:
            raise ValueError(f"{host.address} is listed twice with different TLS settings: keep one of them")
    return list(hosts.values())


def from_docker_environment(address: str, environ: Mapping[str, str]) -> DockerHost:
    """The daemon DOCKER_HOST names, with TLS as the docker CLI decides it: DOCKER_TLS_VERIFY set (not empty)
    verifies both ways with the files in DOCKER_CERT_PATH (by default ~/.docker)."""
    if not environ.get("DOCKER_TLS_VERIFY") or not address.startswith("tcp://"):
        return DockerHost(address)
    folder = environ.get("DOCKER_CERT_PATH") or str(Path(environ.get("HOME", "/root")) / ".docker")
    return DockerHost(address, Path(folder))


def unusable(host: DockerHost) -> str | None:
    """Why the host's TLS files cannot be used (missing, unreadable, not PEM, an encrypted key), or None."""
    files = host.tls_files()
    if files is None:
        return None
    where = f"{host.address}?tls={host.cert_path}"
    for path, (_, meaning) in zip(files, CERT_FILES, strict=True):
        if not path.is_file() or not os.access(path, os.R_OK):
            return f"{where}: {path} is missing or unreadable: put {meaning} there"
    ca, cert, key = files
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=ca)
    except ssl.SSLError:
        return f"{where}: {ca} holds no PEM certificate: put {CERT_FILES[0][1]} there"
    try:
        # An empty password: an encrypted key is refused here instead of OpenSSL asking on the terminal.
        context.load_cert_chain(cert, key, password=b"")
    except ssl.SSLError:
        return (f"{where}: {cert} and {key} are not a PEM certificate and its unencrypted private key "
                "(decrypt the key with `openssl pkey -in key.pem -out key.pem`)")
    return None


def _options(entry: str, query: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for pair in query.split("&") if query else []:
        name, _, value = pair.partition("=")
        value = unquote(value)  # a '+' stays a '+': these are paths, not form fields
        if name not in OPTIONS:
            raise ValueError(f"{entry!r}: after '?' archviz takes only "
                             + "; ".join(f"{option}=… ({meaning})" for option, meaning in OPTIONS.items()))
        if name in options:
            raise ValueError(f"{entry!r} gives {name}= twice: keep one")
        if not value:
            raise ValueError(f"{entry!r}: {name}= is empty: give {OPTIONS[name]}")
        options[name] = value
    return options


def _check_tcp(entry: str, netloc: str, path: str) -> None:
    if "@" in netloc:
        raise ValueError(f"{entry!r}: a Docker address holds no user or password; a daemon on TCP is reached with "
                         "TLS certificates instead (?tls=DIR). Remove the part before '@'")
    host, colon, port = netloc.rpartition(":")
    if not colon or netloc.endswith("]") or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{entry!r} names no port (1-65535): write tcp://HOST:PORT, as in "
                         "tcp://build1.example:2376 (2376 is Docker's TLS port, 2375 its plain one)")
    if not HOST_NAME.fullmatch(host):
        raise ValueError(f"{entry!r} names no host Docker could reach: write tcp://HOST:PORT with a host name, an "
                         "IPv4 address or an IPv6 one in brackets, as in tcp://build1.example:2376")
    if path not in ("", "/"):
        raise ValueError(f"{entry!r}: a tcp:// Docker address has no path: write tcp://HOST:PORT")
