"""The API tap: a proxy between the docker client and the daemon that sees every request the client makes.

Modules, in the order bytes flow through them:
- `listen`: where the tap listens (a unix socket like the daemon's, or TCP with mutual TLS, or plain TCP on loopback
  only when asked for in so many words) and `tls`, the TLS that keeps the half-closes docker attach relies on;
- `proxy`: the `Tap` itself, which copies bytes both ways untouched and times each request as it arrives;
- `reading`: HTTP read from beside the copy (requests, answers, hijacked and streamed bodies);
- `progress`: a streamed answer's JSON progress (pull, push, build, load) decoded on the side.
"""
