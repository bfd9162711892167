"""The audit reports a team asks for, over events stored the way the webhooks store them: who pulled a digest
(from which address, with which user agent), what each actor and each repository did over a range, tags nobody
pulled for N days and pushes outside working hours; each as a page, JSON (paged by `limit` and `cursor`) and CSV,
refusing query strings it cannot use with a 400 that names the fix."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from urllib.parse import parse_qs, quote

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archviz.audit.ingest import ingest
from archviz.audit.reports import REPORTS
from archviz.sources import harbor
from archviz.sources.registry import read_delivery
from tests.hostile import HOSTILE_TEXT
from tests.test_audit import streamed

pytestmark = pytest.mark.django_db
APP = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER = "docker/28.2.2 go/go1.24 os/linux"


def event(number: int, action: str, actor: str, addr: str, *, digest: str = APP, method: str = "GET",
          agent: str = DOCKER, minute: int = 0, at: str = "", repository: str = "lab/app", tag: str = "1",
          media_type: str = MANIFEST) -> dict:
    return {"id": f"e{number}", "timestamp": at or f"2026-11-20T10:{minute:02d}:{number % 60:02d}Z", "action": action,
            "target": {"mediaType": media_type, "repository": repository, "digest": digest, "tag": tag},
            "request": {"addr": f"{addr}:5000", "method": method, "useragent": agent}, "actor": {"name": actor}}


def deliver(*events: dict) -> None:
    ingest(read_delivery(json.dumps({"events": list(events)}).encode()), "127.0.0.1")


@pytest.fixture
def trail() -> None:
    """alice pushes; bob pulls twice from one machine and once from another, and checks once (HEAD); ci pulls
    another digest; an anonymous client pulls; Harbor reports a pull of the same digest by a robot."""
    events = [
        event(1, "push", "alice", "10.0.0.1", method="PUT"),
        event(2, "pull", "bob", "10.0.0.2"),
        event(3, "pull", "bob", "10.0.0.2", minute=5),
        event(4, "pull", "bob", "10.0.0.3", agent="containerd/2.0", minute=6),
        event(5, "pull", "bob", "10.0.0.2", method="HEAD", minute=7),
        event(6, "pull", "ci", "10.0.0.9", digest=OTHER, minute=8),
        event(7, "pull", "", "10.0.0.7", minute=9),
        event(8, "delete", "alice", "10.0.0.1", method="DELETE", minute=30),
    ]
    deliver(*events)
    harbor_pull = {"type": "PULL_ARTIFACT", "occur_at": 1795171400, "operator": "robot$ci",  # 2026-11-20T10:43:20Z
                   "event_data": {"resources": [{"digest": APP, "tag": "1", "resource_url": "harbor.lab/lab/app:1"}],
                                  "repository": {"name": "app", "namespace": "lab", "repo_full_name": "lab/app"}}}
    ingest(harbor.read_payload(json.dumps(harbor_pull).encode()), "127.0.0.1")


def test_who_pulled_a_digest_lists_each_actor_address_and_user_agent_without_existence_checks(
        client: Client, trail: None) -> None:
    answer = client.get(f"/api/registry/reports/pulls/?digest={APP}").json()
    assert [(p["actor"], p["addr"], p["useragent"], p["source"], p["pulls"]) for p in answer["pulls"]] == [
        ("robot$ci", "", "", "harbor", 1),
        ("", "10.0.0.7", DOCKER, "registry", 1),
        ("bob", "10.0.0.3", "containerd/2.0", "registry", 1),
        ("bob", "10.0.0.2", DOCKER, "registry", 2),
    ]
    bob = answer["pulls"][3]
    assert (bob["first"], bob["last"]) == ("2026-11-20T10:00:02.000000000Z", "2026-11-20T10:05:03.000000000Z")


def test_who_pulled_takes_the_audit_filters_and_needs_a_digest(client: Client, trail: None) -> None:
    answer = client.get(f"/api/registry/reports/pulls/?digest={APP}&source=registry&until=2026-11-20T10:05:30Z")
    assert [(p["actor"], p["pulls"]) for p in answer.json()["pulls"]] == [("bob", 2)]
    missing = client.get("/api/registry/reports/pulls/")
    assert missing.status_code == 400 and "digest" in missing.json()["error"]
    assert client.get(f"/api/registry/reports/pulls/?digest={APP}&action=push").status_code == 400
    assert client.get(f"/api/registry/reports/pulls/?digest={APP}&colour=red").status_code == 400


def test_who_pulled_as_csv(client: Client, trail: None) -> None:
    response = client.get(f"/api/registry/reports/pulls.csv?digest={APP}")
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="registry-pulls.csv"' in response["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(streamed(response))))
    assert [(row["actor"], row["addr"], row["pulls"]) for row in table][-1] == ("bob", "10.0.0.2", "2")


def test_per_actor_activity_over_a_range(client: Client, trail: None) -> None:
    actors = client.get("/api/registry/reports/actors/?since=2026-11-20T10:00:00Z&until=2026-11-20T10:10:00Z"
                        ).json()["actors"]
    assert [(a["actor"], a["total"], a["push"], a["pull"], a["delete"], a["checks"]) for a in actors] == [
        ("bob", 4, 0, 3, 0, 1),
        ("", 1, 0, 1, 0, 0),
        ("alice", 1, 1, 0, 0, 0),
        ("ci", 1, 0, 1, 0, 0),
    ]
    everything = {a["actor"]: a for a in client.get("/api/registry/reports/actors/").json()["actors"]}
    assert (everything["alice"]["push"], everything["alice"]["delete"]) == (1, 1)
    assert everything["robot$ci"]["pull"] == 1 and everything["alice"]["repositories"] == 1


def test_per_actor_activity_as_csv_has_one_column_per_action(client: Client, trail: None) -> None:
    response = client.get("/api/registry/reports/actors.csv?source=registry")
    table = list(csv.DictReader(io.StringIO(streamed(response))))
    assert list(table[0])[:6] == ["actor", "total", "push", "pull", "mount", "delete"]
    assert {row["actor"]: row["total"] for row in table} == {"bob": "4", "alice": "2", "ci": "1", "": "1"}


def test_per_repository_activity_counts_pushes_pulls_deletes_and_distinct_actors(client: Client, trail: None,
                                                                                 late: None) -> None:
    answer = client.get("/api/registry/reports/repositories/").json()
    repositories = {record["repository"]: record for record in answer["repositories"]}
    app = repositories["lab/app"]
    assert (app["total"], app["push"], app["pull"], app["delete"], app["checks"]) == (9, 1, 6, 1, 1)
    assert app["actors"] == 5  # alice, bob, ci, robot$ci and the anonymous client
    assert (app["first"], app["last"]) == ("2026-11-20T10:00:01.000000000Z", "2026-11-20T10:43:20.000000000Z")
    web = repositories["lab/web"]
    assert (web["push"], web["pull"], web["actors"], web["last"]) == (5, 1, 3, "2026-11-25T12:00:00.000000000Z")
    assert list(repositories) == ["lab/app", "lab/web"]  # the busiest first
    week = client.get("/api/registry/reports/repositories/?since=2026-11-21T00:00:00Z").json()["repositories"]
    assert [(r["repository"], r["total"]) for r in week] == [("lab/web", 3)]


@pytest.fixture
def late() -> None:
    """Images pushed to lab/web around the working day of Friday 20 November 2026 (UTC), a blob pushed on the
    Saturday, and one pull by digest a few days later."""
    def pushed(number: int, at: str, tag: str, digest: str, actor: str = "carol") -> dict:
        return event(number, "push", actor, "10.0.0.4", method="PUT", at=at, repository="lab/web", tag=tag,
                     digest=digest)

    deliver(pushed(20, "2026-11-20T18:00:00Z", "2", WEB2),
            pushed(21, "2026-11-21T09:00:00Z", "3", WEB3),
            pushed(22, "2026-11-20T07:30:00Z", "4", WEB4, actor="dave"),
            pushed(23, "2026-11-20T12:00:00Z", "5", WEB5),
            event(24, "push", "carol", "10.0.0.4", method="PUT", at="2026-11-21T09:00:05Z", repository="lab/web",
                  tag="", digest=BLOB, media_type="application/octet-stream"),
            event(25, "pull", "erin", "10.0.0.5", at="2026-11-25T12:00:00Z", repository="lab/web", tag="",
                  digest=WEB4))


WEB2, WEB3, WEB4, WEB5, BLOB = ("sha256:" + letter * 64 for letter in "23456")


def test_pushes_outside_working_hours_in_the_server_time_zone_by_default(client: Client, late: None) -> None:
    pushes = client.get("/api/registry/reports/after-hours-pushes/").json()["pushes"]
    assert [(p["tag"], p["local_time"], p["weekday"], p["actor"]) for p in pushes] == [
        ("3", "2026-11-21T09:00:00+00:00", "sat", "carol"),  # a Saturday (the blob pushed with it is not listed)
        ("2", "2026-11-20T18:00:00+00:00", "fri", "carol"),  # exactly 18:00 is after work
        ("4", "2026-11-20T07:30:00+00:00", "fri", "dave"),
    ]
    assert pushes[0]["time"] == "2026-11-21T09:00:00.000000000Z" and pushes[0]["digest"] == WEB3


def test_pushes_outside_working_hours_follow_the_hours_days_and_time_zone_asked_for(client: Client, late: None
                                                                                    ) -> None:
    def tags(query: str) -> list[str]:
        return [p["tag"] for p in client.get(f"/api/registry/reports/after-hours-pushes/?{query}").json()["pushes"]]

    assert tags("tz=Europe/Berlin") == ["3", "2"]  # 07:30 UTC is 08:30 in Berlin
    assert tags("tz=America/New_York") == ["3", "5", "4"]  # 18:00 UTC is 13:00 there, 12:00 UTC 07:00
    assert tags("weekdays=mon-sat") == ["2", "4"]
    assert tags("hours=07:00-19:00&weekdays=mon-sun") == []
    assert tags("hours=12:00-24:00") == ["3", "4"]
    assert tags("actor=dave") == ["4"]
    assert tags("since=2026-11-20T12:00:00Z&until=2026-11-20T23:00:00Z") == ["2"]


def test_pushes_outside_working_hours_as_csv(client: Client, late: None) -> None:
    response = client.get("/api/registry/reports/after-hours-pushes.csv?tz=Europe/Berlin")
    assert 'filename="registry-after-hours-pushes.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(streamed(response))))
    assert rows[0] == ["time", "local_time", "weekday", "repository", "tag", "digest", "actor", "addr", "useragent",
                       "source"]
    assert [row[1:5] for row in rows[1:]] == [["2026-11-21T10:00:00+01:00", "sat", "lab/web", "3"],
                                              ["2026-11-20T19:00:00+01:00", "fri", "lab/web", "2"]]


def test_tags_nobody_pulled_are_listed_never_pulled_first(client: Client, trail: None, late: None) -> None:
    tags = client.get("/api/registry/reports/unpulled-tags/?until=2026-12-31T00:00:00Z").json()["tags"]
    # lab/app:1 was deleted (by digest) after it was pushed; lab/web:4 was pulled by digest on the 25th.
    assert [(t["repository"], t["tag"], t["pushed_by"], t["last_pulled"]) for t in tags] == [
        ("lab/web", "2", "carol", "never"),
        ("lab/web", "3", "carol", "never"),
        ("lab/web", "5", "carol", "never"),
        ("lab/web", "4", "dave", "2026-11-25T12:00:00.000000000Z"),
    ]
    assert tags[0]["pushed"] == "2026-11-20T18:00:00.000000000Z" and tags[0]["digest"] == WEB2


def test_tags_nobody_pulled_take_the_days_and_the_moment_they_are_as_of(client: Client, late: None) -> None:
    def tags(query: str) -> list[str]:
        return [t["tag"] for t in client.get(f"/api/registry/reports/unpulled-tags/?{query}").json()["tags"]]

    assert tags("until=2026-12-31T00:00:00Z&days=40") == ["2", "5"]  # 3 was pushed after the cut-off, 4 pulled since
    assert tags("until=2026-11-22T00:00:00Z&days=0") == ["2", "3", "4", "5"]  # the pull of 4 is after that moment
    assert tags("until=2026-11-22T00:00:00Z&days=1") == ["2", "4", "5"]
    assert tags("until=2026-12-31T00:00:00Z&repository=lab/app") == []
    assert tags("days=36500") == []


def test_tags_nobody_pulled_as_csv(client: Client, late: None) -> None:
    response = client.get("/api/registry/reports/unpulled-tags.csv?until=2026-12-31T00:00:00Z")
    rows = list(csv.reader(io.StringIO(streamed(response))))
    assert rows[0] == ["repository", "tag", "digest", "pushed", "pushed_by", "last_pulled", "source"]
    assert [row[1] + " " + row[5] for row in rows[1:]] == ["2 never", "3 never", "5 never",
                                                           "4 2026-11-25T12:00:00.000000000Z"]


# The JSON in pages ---------------------------------------------------------------------------------------------

# What each report is asked, so that the trail and the late pushes give it several records.
ASKED = {"pulls": f"digest={APP}", "actors": "", "repositories": "", "unpulled-tags": "until=2026-12-31T00:00:00Z",
         "after-hours-pushes": ""}


def followed(client: Client, url: str) -> list[dict]:
    """Every answer from `url` on, following each answer's `next`."""
    answers = [client.get(url).json()]
    while answers[-1]["next"]:
        answers.append(client.get(answers[-1]["next"]).json())
    return answers


@pytest.mark.parametrize("name", list(REPORTS))
def test_each_reports_json_pages_through_every_record_limit_at_a_time(client: Client, trail: None, late: None,
                                                                      name: str) -> None:
    report = REPORTS[name]
    whole = client.get(f"/api/registry/reports/{name}/?{ASKED[name]}").json()
    assert whole["next"] is None and len(whole[report.key]) >= 2
    answers = followed(client, f"/api/registry/reports/{name}/?{ASKED[name]}&limit=1")
    assert [record for answer in answers for record in answer[report.key]] == whole[report.key]
    assert [len(answer[report.key]) for answer in answers] == [1] * len(whole[report.key])
    asked = {**parse_qs(ASKED[name]), "limit": ["1"]}
    for answer in answers[:-1]:  # each next keeps the query, with a cursor of its own
        path, _, query = answer["next"].partition("?")
        kept = parse_qs(query)
        assert path == f"/api/registry/reports/{name}/" and kept.pop("cursor") and kept == asked


def test_a_reports_pages_list_the_records_of_the_events_there_were_at_the_first(client: Client, trail: None) -> None:
    before = client.get("/api/registry/reports/actors/").json()["actors"]
    first = client.get("/api/registry/reports/actors/?limit=2").json()
    deliver(*(event(300 + number, "pull", "zed", "10.0.0.6") for number in range(10)))  # now the busiest
    rest = followed(client, first["next"])
    assert [*first["actors"], *(record for answer in rest for record in answer["actors"])] == before
    assert client.get("/api/registry/reports/actors/?limit=2").json()["actors"][0]["actor"] == "zed"


def test_a_reports_json_holds_100_records_unless_asked_for_another_limit(client: Client) -> None:
    deliver(*(event(400 + number, "pull", f"user{number:03d}", "10.0.0.6") for number in range(101)))
    first = client.get("/api/registry/reports/actors/").json()
    assert len(first["actors"]) == 100 and first["next"].startswith("/api/registry/reports/actors/?cursor=")
    assert [record["actor"] for record in client.get(first["next"]).json()["actors"]] == ["user100"]
    assert len(client.get("/api/registry/reports/actors/?limit=1000").json()["actors"]) == 101


# Hostile query strings: every report refuses what it cannot use with a 400 naming the fix, on its endpoint, its
# CSV and its page alike.

REFUSED = [
    ("pulls", f"digest={APP}&colour=red", "unknown query parameter colour: this endpoint takes"),
    ("pulls", f"digest={APP}&digest={OTHER}", "digest is given 2 times: give it once"),
    ("pulls", "digest=" + "a" * 2000, "digest is longer than 1024 characters"),
    ("pulls", "", "digest is missing: give the digest to report on"),
    ("actors", "since=-5", "since='-5' is out of range"),
    ("actors", "t%FFz=UTC", "unknown query parameter t\ufffdz"),
    ("repositories", "until=" + "9" * 40, "until='9999999999999999999999999999999999999999' is out of range: use "
                                          "Unix seconds"),
    ("repositories", "action=steal", "action='steal' is not one of push, pull"),
    ("unpulled-tags", "days=99999999999999999999999999", "days='99999999999999999999999999' is not a number from 0 "
                                                         "to 36500: e.g. days=30"),
    ("unpulled-tags", "days=-1", "days='-1' is not a number from 0 to 36500"),
    ("unpulled-tags", "days=%C2%B2", "days='\u00b2' is not a number from 0 to 36500"),
    ("unpulled-tags", "days=1&days=2", "days is given 2 times: give it once"),
    ("unpulled-tags", "actor=alice", "unknown query parameter actor: this endpoint takes repository, source, until, "
                                     "days"),
    ("after-hours-pushes", "tz=%FF%FE", "tz='\ufffd\ufffd' is not a time zone name: give an IANA time zone name"),
    ("after-hours-pushes", "tz=Mars/Base", "tz='Mars/Base' is not a time zone this machine knows"),
    ("after-hours-pushes", "hours=18:00-08:00", "hours='18:00-08:00' ends before it starts"),
    ("after-hours-pushes", "hours=99999999999:00-1:00", "is not a range of times: e.g. hours=08:00-18:00"),
    ("after-hours-pushes", "weekdays=weekend", "weekdays='weekend' is not a list of days"),
    ("after-hours-pushes", "action=pull", "unknown query parameter action"),
    ("actors", "limit=0", "limit='0' is not a number from 1 to 1000: e.g. limit=500"),
    ("repositories", "limit=1001", "limit='1001' is not a number from 1 to 1000"),
    ("pulls", f"digest={APP}&limit=ten", "limit='ten' is not a number from 1 to 1000"),
    ("actors", "limit=1&limit=2", "limit is given 2 times: give it once"),
    ("repositories", "cursor=x", "cursor='x' is not a page cursor: follow the answer's \"next\" link"),
    ("unpulled-tags", "cursor=1.2.3", "cursor='1.2.3' is not a page cursor"),
    ("actors", "cursor=-1.0", "cursor='-1.0' is not a page cursor"),
    ("after-hours-pushes", "cursor=" + "9" * 20 + ".1", "cursor='99999999999999999999.1' is not a page cursor"),
    ("after-hours-pushes", "cursor=1." + "9" * 40, "is not a page cursor"),
    ("actors", "before=1.1", "unknown query parameter before"),
]


@pytest.mark.parametrize(("name", "query", "message"), REFUSED)
def test_a_report_refuses_a_query_string_it_cannot_use_naming_the_fix(client: Client, name: str, query: str,
                                                                     message: str) -> None:
    answer = client.get(f"/api/registry/reports/{name}/?{query}")
    assert answer.status_code == 400 and message in answer.json()["error"]
    assert client.get(f"/api/registry/reports/{name}.csv?{query}").status_code == 400
    if query:  # a page with nothing asked of it shows its form instead
        page = client.get(f"/registry/reports/{name}/?{query}")
        assert page.status_code == 400 and 'class="form-error"' in page.content.decode()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(name=st.sampled_from(list(REPORTS)), query=st.dictionaries(
    st.sampled_from(["digest", "since", "until", "days", "hours", "weekdays", "tz", "repository", "source",
                     "action", "checks", "limit", "cursor"]) | HOSTILE_TEXT, HOSTILE_TEXT, max_size=4))
def test_no_query_string_makes_a_report_fail(client: Client, name: str, query: dict[str, str]) -> None:
    raw = "&".join(f"{quote(key.encode('utf-8', 'surrogatepass'))}={quote(value.encode('utf-8', 'surrogatepass'))}"
                   for key, value in query.items())  # bytes that are not UTF-8 included
    for path in (f"/api/registry/reports/{name}/", f"/registry/reports/{name}/"):
        assert client.get(f"{path}?{raw}").status_code in (200, 400)


# The pages ------------------------------------------------------------------------------------------------------


def test_the_audit_page_links_every_report_and_who_pulled_goes_to_its_page(client: Client, trail: None) -> None:
    html = client.get("/registry/").content.decode()
    for name, report in REPORTS.items():
        assert f'<a href="/registry/reports/{name}/">{report.title}</a>' in html
    assert f'href="/registry/reports/pulls/?digest={APP.replace(":", "%3A")}"' in html


@pytest.mark.parametrize("name", list(REPORTS))
def test_each_report_page_on_an_empty_trail_says_how_to_fill_it(client: Client, name: str) -> None:
    html = client.get(f"/registry/reports/{name}/").content.decode()
    assert f"<h1>{REPORTS[name].title}</h1>" in html and 'class="audit-filter report-form"' in html
    assert ("Nothing to report yet: give the digest" if name == "pulls" else "No registry events yet") in html


def test_a_report_page_shows_its_rows_its_options_and_links_to_its_csv(client: Client, late: None) -> None:
    response = client.get("/registry/reports/after-hours-pushes/", {"tz": "Europe/Berlin"})
    html = response.content.decode()
    assert response.status_code == 200
    assert '<input name="tz" value="Europe/Berlin" placeholder="UTC">' in html
    assert '<input name="hours" value="" placeholder="08:00-18:00">' in html
    assert html.count("<tr><td data-column=") == 2 and "2026-11-21T10:00:00+01:00" in html
    assert 'href="/api/registry/reports/after-hours-pushes.csv?tz=Europe%2FBerlin"' in html
    assert '<a href="/registry/?actor=carol">carol</a>' in html


def test_a_report_page_with_nothing_to_show_says_what_to_change(client: Client, late: None) -> None:
    html = client.get("/registry/reports/unpulled-tags/", {"days": "36500"}).content.decode()
    assert "Lower days to list tags pulled less recently" in html
    asking = client.get("/registry/reports/pulls/")
    assert asking.status_code == 200 and "Nothing to report yet: give the digest" in asking.content.decode()


def test_a_long_report_page_shows_the_first_rows_and_sends_the_rest_to_the_csv(client: Client) -> None:
    deliver(*(event(100 + number, "push", "night", "10.0.0.8", method="PUT", at=f"2026-11-21T0{number // 60 % 10}:"
                    f"{number % 60:02d}:00Z", tag=f"t{number}", digest="sha256:" + f"{number:064x}")
              for number in range(501)))
    html = client.get("/registry/reports/after-hours-pushes/").content.decode()
    assert html.count("<tr><td data-column=") == 500 and "Only the first 500 rows are shown here" in html
    assert len(streamed(client.get("/api/registry/reports/after-hours-pushes.csv")).splitlines()) == 502


def test_the_reports_are_documented() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for name in REPORTS:
        for path in (f"/registry/reports/{name}/", f"/api/registry/reports/{name}/", f"reports/{name}.csv"):
            assert path in readme
