"""The lab's network guard: the loopback port the lab daemon's HTTP_PROXY and HTTPS_PROXY point at.

dockerd asks Docker Hub itself for anything its mirror (the lab registry) does not hold, and for logins and searches
with no registry named. With the proxy variables set (and NO_PROXY covering loopback only), every such request comes
here instead: the guard reads the request's first line (`CONNECT registry-1.docker.io:443 HTTP/1.1`), writes it to
its record as one JSON line, and answers 403 with a reason the daemon passes on to the client, so the command fails
at once and says why. Nothing is forwarded: nothing the daemon asks for can leave the machine.

It runs as a script of its own (standard library only), on a listening socket the lab bound and hands it:
`python guard.py FD RECORD`.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import time
from pathlib import Path

REASON = "archviz lab guard: nothing leaves this machine (the lab's Docker Hub stand-in has only the lessons' images)"
ANSWER = f"HTTP/1.1 403 {REASON}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
READ_SECONDS = 1.0
HEAD_LIMIT = 8192


def first_line(connection: socket.socket) -> str:
    """The request line, or what arrived of it before the client paused or closed."""
    head = b""
    connection.settimeout(READ_SECONDS)
    try:
        while b"\n" not in head and len(head) < HEAD_LIMIT:
            chunk = connection.recv(1024)
            if not chunk:
                break
            head += chunk
    except OSError:
        pass
    return head.split(b"\n", 1)[0].strip().decode("latin-1")


def serve(listener: socket.socket, record: Path) -> None:
    while True:
        connection, peer = listener.accept()
        with connection:
            request = first_line(connection)
            with record.open("a") as out:
                out.write(json.dumps({"time": time.time(), "peer": f"{peer[0]}:{peer[1]}", "request": request})
                          + "\n")
            with contextlib.suppress(OSError):  # the client went away first
                connection.sendall(ANSWER)


def attempts(record: Path) -> list[dict[str, object]]:
    """What the guard refused so far, oldest first."""
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines() if line.strip()]


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])), Path(sys.argv[2]))
