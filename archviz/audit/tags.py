"""Tags nobody pulled for N days: cleanup candidates. Pure functions over the audit's pushes, removals and pulls.

The rules, as a team reads them:
- a tag is the manifest last pushed under that name in its repository (a re-push replaces it), until a delete of
  that tag, of that manifest (by digest) or of the whole repository removes it;
- a tag is pulled when its manifest is downloaded from its repository, whether by the tag's name or by digest (how
  `docker pull NAME:TAG` fetches it: an existence check (HEAD) of the tag, then a GET by digest). So a pull counts
  for every tag pointing to that manifest, and a pull of what a tag pointed to before a re-push does not count for
  it. Existence checks download nothing and are not pulls (the store leaves them out);
- a tag is a candidate when it was pushed N days or more before `as_of` and has not been pulled since that
  cut-off: a tag pushed within the N days has not had them to be pulled.
Events after `as_of` are not seen (the report is as of that moment).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

DAY_NS = 86_400 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class Push:
    repository: str
    tag: str
    digest: str
    actor: str
    source: str
    time_ns: int


@dataclass(frozen=True, slots=True)
class Removal:
    """A delete: of a manifest (by digest: every tag pointing to it goes with it, as when Harbor deletes an
    artifact), of a tag alone (no digest), or of the whole repository (neither)."""

    repository: str
    tag: str
    digest: str
    time_ns: int

    def removes(self, push: Push) -> bool:
        if self.repository != push.repository or self.time_ns < push.time_ns:
            return False
        if self.digest:
            return self.digest == push.digest
        return not self.tag or self.tag == push.tag


@dataclass(frozen=True, slots=True)
class Pull:
    """A download (not an existence check) of a manifest, by tag or by digest: the digest is the manifest's."""

    repository: str
    digest: str
    time_ns: int


@dataclass(frozen=True, slots=True)
class Candidate:
    push: Push
    last_pulled_ns: int | None  # None: never pulled


def current_tags(pushes: Iterable[Push], removals: Iterable[Removal], as_of_ns: int) -> dict[tuple[str, str], Push]:
    """What each (repository, tag) points to at `as_of`: its last push, unless removed since."""
    tags: dict[tuple[str, str], Push] = {}
    for push in pushes:
        key = (push.repository, push.tag)
        if push.time_ns <= as_of_ns and (key not in tags or push.time_ns >= tags[key].time_ns):
            tags[key] = push
    by_repository: dict[str, list[Removal]] = {}
    for removal in removals:
        if removal.time_ns <= as_of_ns:
            by_repository.setdefault(removal.repository, []).append(removal)
    return {key: push for key, push in tags.items()
            if not any(removal.removes(push) for removal in by_repository.get(push.repository, ()))}


def unpulled(tags: dict[tuple[str, str], Push], pulls: Iterable[Pull], as_of_ns: int, days: int) -> list[Candidate]:
    """Of the tags (current_tags), those not pulled in the `days` days before `as_of`: never pulled first, then
    the longest unpulled."""
    last: dict[tuple[str, str], int] = {}  # by (repository, digest)
    for pull in pulls:
        key = (pull.repository, pull.digest)
        if pull.time_ns <= as_of_ns and pull.time_ns > last.get(key, -1):
            last[key] = pull.time_ns
    cutoff = as_of_ns - days * DAY_NS
    found = [Candidate(push, last.get((push.repository, push.digest))) for push in tags.values()
             if push.time_ns <= cutoff and last.get((push.repository, push.digest), -1) < cutoff]
    return sorted(found, key=lambda c: (-1 if c.last_pulled_ns is None else c.last_pulled_ns, c.push.repository,
                                        c.push.tag))
