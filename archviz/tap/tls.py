"""TLS for the tap's TCP listener, kept to one job: client certificates required, and half-closes kept.

asyncio's own TLS transport ends the whole connection when the client half-closes, and the docker CLI
half-closes every attach (`docker run`, `exec`) once its input is done: the container's output would never
reach it. So the records are read and written here with ssl.MemoryBIO, over a plain TCP connection:

1. Handshake: a client without a certificate signed by the CA (or one that speaks no TLS, or stays silent for
   HANDSHAKE_SECONDS) is refused here; the tap never hears of it.
2. Then each record read becomes plain bytes for the tap's stream, and what the tap writes is encrypted as it
   comes, unbuffered.
3. The client's half-close (a TCP FIN, as the docker CLI sends, or a close_notify) ends the stream's input and
   leaves the connection open for the answer; the tap's own half-close is a close_notify, then a FIN.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
HANDSHAKE_SECONDS = 10.0
CHUNK = 256 * 1024  # plain bytes handed to the stream at once, as the tap reads them


def server_context(ca: str, cert: str, key: str, names: tuple[str, str, str]) -> ssl.SSLContext:
    """A context that refuses every client whose certificate `ca` did not sign; `names` are what the person
    configuring it calls the three files, for the ValueError that says which one cannot be used."""
    ca_name, cert_name, key_name = names
    for name, path in zip(names, (ca, cert, key), strict=True):
        if not os.access(path, os.R_OK) or not Path(path).is_file():
            raise ValueError(f"{name} {path}: no readable file there")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    try:
        # An empty password: an encrypted key fails here instead of OpenSSL asking for one on the terminal.
        context.load_cert_chain(cert, key, password=b"")
    except ssl.SSLError as error:
        raise ValueError(f"{cert_name} {cert} and {key_name} {key} are not a PEM certificate and its unencrypted "
                         f"private key ({error.reason or 'no PEM found'})") from None
    try:
        context.load_verify_locations(cafile=ca)
    except ssl.SSLError as error:
        raise ValueError(f"{ca_name} {ca} holds no PEM certificate ({error.reason or 'no PEM found'})") from None
    return context


class TlsServer(asyncio.Protocol):
    """The TCP side of one client's connection: TLS records in and out, plain bytes to and from `stream`."""

    def __init__(self, context: ssl.SSLContext, stream: Callable[[], asyncio.Protocol]) -> None:
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.make_stream = stream
        self.stream: asyncio.Protocol | None = None  # made once the handshake succeeds
        self.raw: asyncio.Transport | None = None
        self.deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.raw = transport
        self.deadline = asyncio.get_running_loop().call_later(HANDSHAKE_SECONDS, transport.abort)

    def data_received(self, data: bytes) -> None:
        self.incoming.write(data)
        if self.stream is None:
            self._handshake()
        if self.stream is not None:
            self._read(self.stream)

    def eof_received(self) -> bool | None:
        if self.stream is None:
            return False  # gone before the handshake ended: close
        return self.stream.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
        if self.stream is not None:
            self.stream.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.stream is not None:
            self.stream.pause_writing()

    def resume_writing(self) -> None:
        if self.stream is not None:
            self.stream.resume_writing()

    def send(self) -> None:
        """Put on the wire the records OpenSSL has made (handshake messages, alerts, data)."""
        assert self.raw is not None
        if records := self.outgoing.read():
            self.raw.write(records)

    def _handshake(self) -> None:
        assert self.raw is not None and self.deadline is not None
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            self.send()
            return
        except ssl.SSLError as error:  # no certificate, one from another CA, or no TLS at all
            log.debug("tap: TLS handshake refused: %s", error)
            self.send()  # the alert says why
            self.raw.close()
            return
        self.send()
        self.deadline.cancel()
        self.stream = self.make_stream()
        self.stream.connection_made(PlainTransport(self, self.raw))

    def _read(self, stream: asyncio.Protocol) -> None:
        assert self.raw is not None
        while True:
            try:
                data = self.tls.read(CHUNK)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                data = b""
            except ssl.SSLError as error:
                log.debug("tap: TLS record refused: %s", error)
                self.raw.close()
                break
            if not data:  # close_notify: the client is done writing, not reading
                stream.eof_received()
                break
            stream.data_received(data)
        self.send()


class PlainTransport(asyncio.Transport):
    """What the tap's stream writes to: plain bytes, encrypted and sent at once; the rest is the TCP transport's."""

    def __init__(self, server: TlsServer, raw: asyncio.Transport) -> None:
        super().__init__()
        self.server, self.raw = server, raw

    def write(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        while view:
            view = view[self.server.tls.write(view):]
        self.server.send()

    def write_eof(self) -> None:
        with contextlib.suppress(ssl.SSLError):  # unwrap then waits for the client's close_notify: not needed
            self.server.tls.unwrap()
        self.server.send()
        self.raw.write_eof()

    def can_write_eof(self) -> bool:
        return True

    def close(self) -> None:
        self.raw.close()

    def is_closing(self) -> bool:
        return self.raw.is_closing()

    def pause_reading(self) -> None:
        self.raw.pause_reading()

    def resume_reading(self) -> None:
        self.raw.resume_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.raw.get_extra_info(name, default)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self.raw.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self.raw.get_write_buffer_size()

    def abort(self) -> None:
        self.raw.abort()
