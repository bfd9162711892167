"""Checking an image reference the way Docker reads one: [registry[:port]/]path[:tag][@digest]."""

from __future__ import annotations

import re

MAX_NAME = 255
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?)"
_REFERENCE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}))?"
)


class BadReference(ValueError):
    """A reference Docker would refuse; the message says why."""


def parse_reference(text: str) -> tuple[str, str]:
    """(repository, tag or digest) for a pull; the tag defaults to `latest`, as the docker CLI does."""
    reference = text.strip()
    if not reference:
        raise BadReference("type an image reference, such as 127.0.0.1:5000/lab/busybox:1")
    name = reference.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    if len(name) > MAX_NAME:
        raise BadReference(f"the repository name is {len(name)} characters long; Docker allows at most {MAX_NAME}")
    match = _REFERENCE.fullmatch(reference)
    if match is None:
        path = name.split("/", 1)[1] if "/" in name and re.match(_DOMAIN + "$", name.split("/", 1)[0]) else name
        if path != path.lower():
            raise BadReference(f"{reference[:80]!r}: repository names must be lowercase")
        raise BadReference(f"{reference[:80]!r} is not a valid image reference: use [registry/]name[:tag][@digest]")
    if match["digest"]:
        return match["name"], match["digest"]
    return match["name"], match["tag"] or "latest"
