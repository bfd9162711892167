"""Saved sessions, as a teacher uses them: keep a stretch of real traffic, export it, import it on another machine
(with no Docker at all) and replay the very same diagram; bad files are refused with a sentence that says why,
and leave nothing behind."""

from __future__ import annotations

import gzip
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from archviz.classroom import sessions
from archviz.classroom.present import present
from archviz.classroom.sessions import SHIPPED, SessionError, catalogue, parse
from archviz.lessons.lesson import catalogue as lessons
from archviz.models import Session, SessionObservation, StoredObservation
from tests.recorded import SCENARIOS, scenario

pytestmark = pytest.mark.django_db

# The sessions that ship with archviz, and the recorded scenario each was made from.
SHIPPED_FROM = {"docker-pull": "pull", "docker-run-missing-image": "run-missing-image",
                "docker-build": "build-missing-base", "run-exec-stop-rm": "run-detached-exec-stop-rm"}
# Each lesson ships as a session of its name, recorded by scripts/record_lessons.py with its golden Mermaid here.
LESSON_GOLDEN = Path(__file__).resolve().parent / "data" / "lessons"


def staff(client: Client) -> Client:
    client.force_login(User.objects.create_user("teacher", password="x", is_staff=True))
    return client


def session_file(name: str = "lesson", observations: list[dict[str, Any]] | None = None, **changes: Any) -> bytes:
    rows = observations if observations is not None else scenario("pull")
    document = {"format": "archviz-session", "version": 1, "name": name, "title": "a pull",
                "since": "1", "until": "4102444800000000000",
                "observations": [{k: v for k, v in o.items() if k != "id"} for o in rows], **changes}
    return json.dumps(document).encode()


def store_scenario(name: str) -> None:
    StoredObservation.objects.bulk_create(StoredObservation(
        time_ns=int(o["time_ns"]), source=o["source"], host=o["host"], kind=o["kind"], subject=o["subject"],
        attributes=o["attributes"], correlation=o["correlation"]) for o in scenario(name))


def nothing_kept() -> bool:
    return not Session.objects.exists() and not SessionObservation.objects.exists()


# Every shipped session and the golden Mermaid it must export.
GOLDEN = {shipped: SCENARIOS / f"{recorded}.mmd" for shipped, recorded in SHIPPED_FROM.items()} | {
    lesson.name: LESSON_GOLDEN / f"{lesson.name}.mmd" for lesson in lessons()}


@pytest.mark.parametrize("shipped", sorted(GOLDEN))
def test_a_shipped_session_replays_the_diagram_it_was_recorded_with(shipped: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nowhere/docker.sock")  # no daemon anywhere
    mermaid = Client().get(f"/api/sequence.mmd?session={shipped}")
    assert mermaid.status_code == 200
    if os.environ.get("ARCHVIZ_UPDATE_GOLDEN") and GOLDEN[shipped].parent == LESSON_GOLDEN:
        GOLDEN[shipped].write_text(mermaid.content.decode())  # after a deliberate change in drawing: read the diff
    assert mermaid.content.decode() == GOLDEN[shipped].read_text()
    assert "inferred" not in mermaid.content.decode()
    shown = Client().get(f"/api/present/?session={shipped}").json()
    assert shown["session"]["name"] == shipped and shown["session"]["title"].endswith("(recorded in the lab)")
    assert shown["messages"]


def test_every_shipped_session_is_listed_and_readable() -> None:
    listed = {s["name"]: s for s in Client().get("/api/sessions/").json()["sessions"]}
    assert set(GOLDEN) == {path.stem for path in SHIPPED.glob("*.json")}
    assert set(GOLDEN) <= set(listed) and all(listed[name]["shipped"] for name in GOLDEN)
    for path in SHIPPED.glob("*.json"):
        assert parse(path.read_bytes()).name == path.stem


def test_the_listing_reads_a_shipped_file_once_and_again_when_it_changes(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "run-hello-world.json").write_bytes((SHIPPED / "run-hello-world.json").read_bytes())
    monkeypatch.setattr(sessions, "SHIPPED", shipped)
    reads: list[bytes] = []
    monkeypatch.setattr(sessions, "parse", lambda raw: reads.append(raw) or parse(raw))
    first, again = catalogue(), catalogue()
    assert first == again and len(reads) == 1
    document = json.loads((shipped / "run-hello-world.json").read_text())
    document["title"] = "Hello, world, as updated"
    (shipped / "run-hello-world.json").write_text(json.dumps(document))
    os.utime(shipped / "run-hello-world.json", ns=(1, 1))  # another version, whatever the clock's resolution
    assert [entry["title"] for entry in catalogue()] == ["Hello, world, as updated"]


def test_save_export_import_on_a_fresh_database_round_trips_exactly(tmp_path: Path) -> None:
    store_scenario("run-detached-exec-stop-rm")
    times = [int(o["time_ns"]) for o in scenario("run-detached-exec-stop-rm")]
    since, until = f"{min(times) / 1e9:.9f}", f"{max(times) / 1e9 + 1e-6:.9f}"
    call_command("session", "save", "stop-lesson", "--since", since, "--until", until, "--title", "run, exec, stop")
    before_mermaid = Client().get("/api/sequence.mmd?session=stop-lesson").content
    before = Client().get("/api/present/?session=stop-lesson").json()
    exported = io.StringIO()
    call_command("session", "export", "stop-lesson", stdout=exported)
    file = tmp_path / "stop-lesson.json"
    file.write_text(exported.getvalue())

    StoredObservation.objects.all().delete()  # the other machine: nothing of that traffic
    call_command("session", "delete", "stop-lesson")
    assert nothing_kept()
    call_command("session", "import", str(file), stdout=io.StringIO())
    assert Client().get("/api/sequence.mmd?session=stop-lesson").content == before_mermaid
    after = Client().get("/api/present/?session=stop-lesson").json()
    assert [m["narration"] for m in after["messages"]] == [m["narration"] for m in before["messages"]]
    assert after == before


def test_a_kept_session_outlives_the_live_store() -> None:
    store_scenario("pull")
    call_command("session", "save", "kept", "--since", "0", "--until", "2100-01-01T00:00:00Z")
    StoredObservation.objects.all().delete()
    assert Client().get("/api/present/?session=kept").json()["interactions"][0]["title"].startswith("docker pull")


def test_a_range_with_nothing_in_it_is_not_kept() -> None:
    with pytest.raises(CommandError, match="nothing was observed in that range"):
        call_command("session", "save", "empty", "--since", "0", "--until", "1")
    assert nothing_kept()


def deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"a": value}
    return value


def million_observations() -> bytes:
    one = json.dumps({k: v for k, v in scenario("pull")[0].items() if k != "id"}).encode()
    head = b'{"format": "archviz-session", "version": 1, "name": "big", "title": "big", "since": "1", "until": "2", '
    return head + b'"observations": [' + b",".join([one] * 1_000_000) + b"]}"


BAD_FILES = [
    ("truncated", session_file()[:-40], "cut short"),
    ("not JSON", b"<html>oops</html>", "not JSON"),
    ("not UTF-8", b'{"format": "\xff\xfe"}', "not UTF-8"),
    ("not a session", b'{"hello": 1}', "not an archviz session file"),
    ("a list", b"[1, 2, 3]", "not an archviz session file"),
    ("a later version", session_file(version=2), "version 2"),
    ("a bad name", session_file(name="../../etc"), "not a session name"),
    ("observations not a list", session_file().replace(b'"observations": [', b'"observations": {"a": [', 1)
     .replace(b"]}", b"]}}", 1), "must be a list"),
    ("an unknown kind", session_file(observations=[{**scenario("pull")[0], "kind": "container-teleport"}]),
     "kind 'container-teleport' is not one archviz knows"),
    ("an unknown source", session_file(observations=[{**scenario("pull")[0], "source": "oracle"}]), "source"),
    ("an extra field", session_file(observations=[{**scenario("pull")[0], "evil": 1}]), "wrong fields (evil)"),
    ("attributes not an object", session_file(observations=[{**scenario("pull")[0], "attributes": [1]}]),
     "attributes must be an object"),
    ("a time that is not digits", session_file(observations=[{**scenario("pull")[0], "time_ns": "soon"}]),
     "time_ns must be a string of digits"),
    ("a time past what a 64-bit store holds", session_file(observations=[{**scenario("pull")[0],
                                                                          "time_ns": "9" * 19}]), "time_ns must be"),
    ("a range past what a 64-bit store holds", session_file(until="1" + "0" * 30), "\"until\" must be"),
    ("unicode digits", session_file(since="١٢٣"), "\"since\" must be"),
    ("a huge subject", session_file(observations=[{**scenario("pull")[0], "subject": "x" * 100_000}]),
     "subject must be a text of at most 512"),
    ("attributes nested deep", session_file(observations=[{**scenario("pull")[0], "attributes": deep(40)}]),
     "nested more than 16 deep"),
    ("JSON nested beyond reason", b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
    ("a million observations", million_observations(), "sessions are at most"),
]


@pytest.mark.parametrize(("case", "raw", "says"), BAD_FILES, ids=[case for case, _, _ in BAD_FILES])
def test_a_bad_file_is_refused_with_a_reason_and_nothing_is_kept(case: str, raw: bytes, says: str,
                                                                 tmp_path: Path) -> None:
    file = tmp_path / "bad.json"
    file.write_bytes(raw)
    with pytest.raises(CommandError) as refused:
        call_command("session", "import", str(file))
    assert says in str(refused.value), case
    assert nothing_kept()


def test_too_many_observations_for_the_configured_limit_are_refused(settings: Any) -> None:
    settings.ARCHVIZ_SESSION_MAX_OBSERVATIONS = 5
    with pytest.raises(SessionError, match="holds 12 observations; a session holds at most 5"):
        parse(session_file())


def test_importing_over_an_existing_name_is_refused_and_as_renames(tmp_path: Path) -> None:
    file = tmp_path / "lesson.json"
    file.write_bytes(session_file("lesson"))
    call_command("session", "import", str(file), stdout=io.StringIO())
    with pytest.raises(CommandError, match="exists already"):
        call_command("session", "import", str(file))
    call_command("session", "import", str(file), "--as", "lesson-2", stdout=io.StringIO())
    assert {s["name"] for s in catalogue() if not s["shipped"]} == {"lesson", "lesson-2"}
    with pytest.raises(CommandError, match="exists already"):
        call_command("session", "import", str(file), "--as", "docker-pull")  # a shipped one


def test_the_import_button_needs_a_staff_user(client: Client) -> None:
    refused = client.post("/api/sessions/import", session_file(), content_type="application/json")
    assert refused.status_code == 403 and "log in" in refused.json()["error"]
    assert nothing_kept()
    staff(client)
    upload = io.BytesIO(session_file("from-the-page"))
    upload.name = "from-the-page.json"
    kept = client.post("/api/sessions/import", {"file": upload})
    assert kept.status_code == 201 and kept.json()["observations"] == 12
    exported = client.get("/api/sessions/from-the-page.json")
    assert exported["Content-Disposition"] == 'attachment; filename="from-the-page.json"'
    assert parse(exported.content).observations == parse(session_file("from-the-page")).observations


def test_the_import_button_refuses_bad_and_oversized_files(client: Client, settings: Any) -> None:
    staff(client)
    bad = client.post("/api/sessions/import", session_file(version=3), content_type="application/json")
    assert bad.status_code == 400 and "version 3" in bad.json()["error"]
    settings.ARCHVIZ_SESSION_MAX_BYTES = 2048
    big = client.post("/api/sessions/import", session_file(), content_type="application/json")
    assert big.status_code == 413 and "at most 2,048" in big.json()["error"]
    assert nothing_kept()


def test_keeping_a_range_from_the_page_needs_a_staff_user(client: Client) -> None:
    store_scenario("pull")
    form = {"name": "from-page", "since": "0", "until": "4102444800", "title": "pull"}
    assert client.post("/api/sessions/", form).status_code == 403
    staff(client)
    kept = client.post("/api/sessions/", form)
    assert kept.status_code == 201 and kept.json()["name"] == "from-page"
    again = client.post("/api/sessions/", form)
    assert again.status_code == 400 and "exists already" in again.json()["error"]


@pytest.mark.parametrize(("query", "status", "says"), [
    ("session=nope", 404, "no session named 'nope'"),
    ("session=docker-pull&since=1", 400, "not both"),
    ("since=yesterday", 400, "neither Unix seconds nor ISO 8601"),
    ("since=5&until=1", 400, "swap them"),
    ("colour=red", 400, "unknown parameter colour"),
])
def test_the_present_api_names_what_is_wrong_with_a_query(client: Client, query: str, status: int,
                                                          says: str) -> None:
    answer = client.get(f"/api/present/?{query}")
    assert answer.status_code == status and says in answer.json()["error"]


def test_the_present_api_over_a_live_range_is_the_same_mapping() -> None:
    store_scenario("pull")
    shown = Client().get("/api/present/").json()
    rows = [row.to_wire() for row in StoredObservation.objects.order_by("id")]
    assert shown == json.loads(json.dumps(present(rows)))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=30,
)
valid = json.loads(session_file())


@given(st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.tuples(st.sampled_from(sorted(valid)), json_values).map(
        lambda change: json.dumps({**valid, change[0]: change[1]}).encode()),
    st.tuples(st.sampled_from(sorted(valid["observations"][0])), json_values).map(
        lambda change: json.dumps({**valid, "observations": [{**valid["observations"][0], change[0]: change[1]}]})
        .encode()),
))
@examples(max_examples=300, deadline=None)
def test_any_file_at_all_is_read_or_refused_with_a_reason(raw: bytes) -> None:
    try:
        session = parse(raw)
    except SessionError as error:
        assert str(error)
    else:
        assert all(int(o["time_ns"]) < 1 << 63 for o in session.observations)


def test_the_present_api_answers_again_at_once_and_sees_what_falls_into_a_range_later() -> None:
    store_scenario("pull")
    first = Client().get("/api/present/?since=0").json()
    assert Client().get("/api/present/?since=0").json() == first
    store_scenario("run-rm-present")  # more traffic in the same range
    later = Client().get("/api/present/?since=0").json()
    assert len(later["interactions"]) == len(first["interactions"]) + 1


def test_a_browser_is_sent_the_present_answer_compressed_and_any_other_client_plain() -> None:
    store_scenario("pull")
    browser = Client().get("/api/present/?since=0", HTTP_ACCEPT_ENCODING="gzip, deflate, br, zstd")
    plain = Client().get("/api/present/?since=0")
    assert browser["Content-Encoding"] == "gzip" and "Content-Encoding" not in plain
    assert "Accept-Encoding" in browser["Vary"] and "Accept-Encoding" in plain["Vary"]
    assert len(browser.content) < len(plain.content) / 4
    assert gzip.decompress(browser.content) == plain.content


@pytest.mark.parametrize("how", ["keep", "import"])
def test_a_session_kept_or_imported_from_the_page_opens_without_being_mapped_again(
        client: Client, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    store_scenario("pull")
    staff(client)
    if how == "keep":
        kept = client.post("/api/sessions/", {"name": "lesson", "since": "0", "until": "4102444800"})
    else:
        kept = client.post("/api/sessions/import", session_file("lesson"), content_type="application/json")
    assert kept.status_code == 201

    def mapped_again(*arguments: Any) -> None:
        raise AssertionError("the first open mapped the session again")

    monkeypatch.setattr("archviz.classroom.views.present", mapped_again)
    opened = client.get("/api/present/?session=lesson")
    assert opened.status_code == 200 and len(opened.json()["messages"]) > 10
