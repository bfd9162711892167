"""Cleanup candidates (tags nobody pulled for N days) from pushes, deletes and pulls, as a team reads them: a
re-push replaces a tag, a delete removes it, a download of its manifest (by the tag's name or by digest) keeps it,
an existence check does not (the store leaves those out before these rules see the pulls)."""

from __future__ import annotations

import pytest

from archviz.audit.tags import DAY_NS, Pull, Push, Removal, current_tags, unpulled

NOW = 1_800_000_000 * 10**9
A, B, C = ("sha256:" + letter * 64 for letter in "abc")


def day(number: float) -> int:
    """`number` days before NOW."""
    return NOW - int(number * DAY_NS)


def push(tag: str, digest: str, when: int, repository: str = "lab/app", actor: str = "alice") -> Push:
    return Push(repository, tag, digest, actor, "registry", when)


def pull(digest: str, when: int, repository: str = "lab/app") -> Pull:
    """A download of that manifest, by tag or by digest: a registry names the manifest's digest either way."""
    return Pull(repository, digest, when)


def tags_of(pushes: list[Push], removals: list[Removal], pulls: list[Pull], days: int = 30, as_of: int = NOW
            ) -> list[tuple[str, int | None]]:
    tags = current_tags(pushes, removals, as_of)
    return [(candidate.push.tag, candidate.last_pulled_ns) for candidate in unpulled(tags, pulls, as_of, days)]


@pytest.mark.parametrize(
    ("pushes", "removals", "pulls", "expected"),
    [
        # never pulled, pushed long ago: a candidate; pushed within the 30 days: not yet
        ([push("1", A, day(40)), push("2", B, day(10))], [], [], [("1", None)]),
        # pushed exactly 30 days ago: it has had its 30 days
        ([push("1", A, day(30))], [], [], [("1", None)]),
        ([push("1", A, day(30) + 1)], [], [], []),
        # pulled within the days, exactly at the cut-off, and a nanosecond before it
        ([push("1", A, day(40))], [], [pull(A, day(5))], []),
        ([push("1", A, day(40))], [], [pull(A, day(30))], []),
        ([push("1", A, day(40))], [], [pull(A, day(30) - 1)], [("1", day(30) - 1)]),
        # the same manifest pulled from another repository is not a pull of this tag
        ([push("1", A, day(40))], [], [pull(A, day(2), repository="lab/other")], [("1", None)]),
        # a pull keeps every tag pointing to that manifest (`docker pull app:latest` keeps app:1 as well)
        ([push("1", A, day(40)), push("latest", A, day(40))], [], [pull(A, day(2))], []),
        # re-pushed: a pull of the old content (by name before the re-push, or by digest since) is not a pull of it
        ([push("1", A, day(60)), push("1", B, day(40))], [], [pull(A, day(50)), pull(A, day(2))], [("1", None)]),
        ([push("1", A, day(60)), push("1", B, day(40))], [], [pull(A, day(50)), pull(B, day(35))],
         [("1", day(35))]),
        # re-pushed within the days: not a candidate, whatever its old content did
        ([push("1", A, day(60)), push("1", B, day(10))], [], [], []),
        # deleted: the tag, its manifest by digest (Harbor's artifact delete names both), or the whole repository
        ([push("1", A, day(40))], [Removal("lab/app", "1", "", day(35))], [], []),
        ([push("1", A, day(40)), push("2", B, day(40))], [Removal("lab/app", "", A, day(35))], [], [("2", None)]),
        ([push("1", A, day(40))], [Removal("lab/app", "latest", A, day(35))], [], []),
        ([push("1", A, day(40))], [Removal("lab/app", "", "", day(35))], [], []),
        ([push("1", A, day(40))], [Removal("lab/other", "", "", day(35))], [], [("1", None)]),
        # deleted, then pushed again: there again
        ([push("1", A, day(40)), push("1", C, day(31))], [Removal("lab/app", "1", "", day(35))], [], [("1", None)]),
        # never pulled first, then the longest unpulled, then by repository and tag
        ([push("b", A, day(90)), push("a", B, day(90)), push("c", C, day(90))], [],
         [pull(A, day(50)), pull(C, day(70))], [("a", None), ("c", day(70)), ("b", day(50))]),
    ],
)
def test_cleanup_candidates(pushes: list[Push], removals: list[Removal], pulls: list[Pull],
                            expected: list[tuple[str, int | None]]) -> None:
    assert tags_of(pushes, removals, pulls) == expected


def test_with_zero_days_every_tag_not_pulled_at_that_very_moment_is_a_candidate() -> None:
    pushes = [push("1", A, day(3)), push("2", B, NOW), push("3", C, day(1))]
    assert tags_of(pushes, [], [pull(C, NOW), pull(A, day(0.5))], days=0) == [("2", None), ("1", day(0.5))]


def test_what_happened_after_the_moment_the_report_is_as_of_is_not_seen() -> None:
    as_of = day(20)
    pushes = [push("1", A, day(60)), push("2", B, day(10))]
    removals = [Removal("lab/app", "1", "", day(15))]
    assert tags_of(pushes, removals, [pull(A, day(19))], as_of=as_of) == [("1", None)]


def test_the_candidate_keeps_who_pushed_it_and_when() -> None:
    tags = current_tags([push("1", A, day(40), actor="alice"), push("1", B, day(35), actor="bob")], [], NOW)
    (candidate,) = unpulled(tags, [], NOW, 30)
    assert (candidate.push.digest, candidate.push.actor, candidate.push.time_ns) == (B, "bob", day(35))
