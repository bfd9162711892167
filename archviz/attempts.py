"""Failed logins, counted per client address and per user name, so that the login page can refuse a guesser.

What must stay true:
- A count lives in Django's cache (Redis when REDIS_URL is set, so every web process counts the same), under a key
  that holds a hash of the user name, never the name itself, whatever its length or bytes.
- Counts go up atomically (the cache's `incr`): requests sent at once cannot slip past the limit.
- Windows are fixed: window number `int(now // ARCHVIZ_LOGIN_WINDOW)`. A client that failed
  ARCHVIZ_LOGIN_ATTEMPTS times in one is refused until the next begins, and is told when that is.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


@dataclass(frozen=True)
class Refusal:
    """Why a login is refused now, and from when the client may try again (Unix seconds)."""

    who: str  # "address" or "user"
    retry_at: int

    def retry_after(self, now: float) -> int:
        return max(1, int(self.retry_at - now))


def _window(now: float) -> int:
    return int(now // settings.ARCHVIZ_LOGIN_WINDOW)


def _user_key(username: str) -> str:
    # The form authenticates the NFKC form of the name; a case change must not buy a fresh count either.
    folded = unicodedata.normalize("NFKC", username).casefold()
    return hashlib.sha256(folded.encode("utf-8", "surrogatepass")).hexdigest()


def keys(address: str, username: str, now: float) -> dict[str, str]:
    """The cache keys counting this window's failures: one for the address, one for the name (none when blank)."""
    window = _window(now)
    counted = {"address": f"login-failures:address:{address}:{window}"}
    if username:
        counted["user"] = f"login-failures:user:{_user_key(username)}:{window}"
    return counted


def refusal(address: str, username: str, now: float) -> Refusal | None:
    """A Refusal when the address or the name has failed ARCHVIZ_LOGIN_ATTEMPTS times in this window."""
    counted = keys(address, username, now)
    counts = cache.get_many(list(counted.values()))
    for who, key in counted.items():
        if counts.get(key, 0) >= settings.ARCHVIZ_LOGIN_ATTEMPTS:
            return Refusal(who, (_window(now) + 1) * settings.ARCHVIZ_LOGIN_WINDOW)
    return None


def record_failure(address: str, username: str, now: float) -> None:
    # A key outlives its window a little, so that it never expires while its window still counts.
    lifetime = (_window(now) + 1) * settings.ARCHVIZ_LOGIN_WINDOW - int(now) + 5
    for key in keys(address, username, now).values():
        cache.add(key, 0, lifetime)
        try:
            cache.incr(key)
        except ValueError:  # it expired between the two calls: this failure starts its count
            cache.add(key, 1, lifetime)
