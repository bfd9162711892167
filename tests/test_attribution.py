"""Which request caused what: daemon events and registry notifications land in the box of the client command that
caused them, by the rules table, the subject and the time, never by store order alone; what no request explains is
drawn as inferred. The observations here have the shapes the tap, the watcher and the registry webhook store (see
tests/data/scenarios/ for whole recorded sessions)."""

from __future__ import annotations

from typing import Any

from archviz.kinds import ALL_KINDS
from archviz.sequence import sequence
from archviz.sequence.rules import ENDPOINTS, endpoint_for
from archviz.sequence.sequencer import Sequencer
from tests.recorded import scenario

HOST = "unix:///tmp/archviz-lab/docker.sock"
SECOND = 1_000_000_000
C1 = "c1" + "0" * 62


class Session:
    """Builds observations in store order, with ids 1, 2, … and times in seconds."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, at: float, source: str, kind: str, subject: str, **attributes: Any) -> dict[str, Any]:
        row = {"id": len(self.rows) + 1, "time_ns": str(int(at * SECOND)), "source": source,
               "host": "127.0.0.1:5000" if source == "registry" else HOST, "kind": kind, "subject": subject,
               "attributes": attributes, "correlation": ""}
        self.rows.append(row)
        return row

    def request(self, at: float, pid: int, span: str, method: str, path: str, **query: str) -> None:
        self.add(at, "tap", "api-request", f"{method} {path}", method=method, path=path, query=query, pid=pid,
                 connection=int(span.split(".")[0]), span=span, user_agent="Docker-Client/28.2.2 (linux)")

    def answer(self, at: float, pid: int, span: str, method: str, path: str, status: int, started: float,
               **more: Any) -> None:
        self.add(started, "tap", "api-call", f"{method} {path}", method=method, path=path, status=status, pid=pid,
                 connection=int(span.split(".")[0]), span=span, announced=True,
                 duration_ms=(at - started) * 1000, user_agent="Docker-Client/28.2.2 (linux)", **{"reason": ""} | more)

    def stream_end(self, at: float, pid: int, span: str, method: str, path: str, started: float, **more: Any) -> None:
        self.add(at, "tap", "api-stream-end", f"{method} {path}", method=method, path=path, status=200, pid=pid,
                 connection=int(span.split(".")[0]), span=span, ending="complete", duration_ms=(at - started) * 1000,
                 user_agent="Docker-Client/28.2.2 (linux)", **more)

    def event(self, at: float, kind: str, name: str = "c1", **attributes: Any) -> None:
        self.add(at, "daemon", kind, name, id=C1, name=name, **attributes)


def box_of(diagram: Any, label_part: str) -> str:
    (title,) = {diagram.interactions[m.interaction].title for m in diagram.messages
                if label_part in m.label and m.interaction}
    return title


def test_a_stop_from_one_client_keeps_its_signals_while_another_follows_the_logs() -> None:
    session = Session()
    session.request(10.0, 100, "1.1", "GET", f"/containers/{C1}/logs", follow="1")
    session.answer(10.0, 100, "1.1", "GET", f"/containers/{C1}/logs", 200, 10.0, streamed=True)
    session.request(11.0, 200, "2.1", "POST", "/containers/c1/stop", t="1")
    session.event(11.01, "container-kill", signal="15")
    session.event(12.01, "container-kill", signal="9")
    session.event(12.05, "container-die", exitCode="137")
    session.event(12.06, "container-stop")
    session.answer(12.07, 200, "2.1", "POST", "/containers/c1/stop", 204, 11.0)
    session.stream_end(12.08, 100, "1.1", "GET", f"/containers/{C1}/logs", 10.0)
    diagram = sequence(session.rows)
    assert box_of(diagram, "SIGTERM") == box_of(diagram, "exited with code 137") == "docker stop -t 1 c1"
    assert box_of(diagram, "logs ended") == f"docker logs -f {C1[:12]}"
    stop = [m.label for m in diagram.messages if diagram.interactions[m.interaction].title.startswith("docker stop")]
    assert stop.index("stop c1 (after 1 s)") < stop.index("send SIGTERM to c1")
    assert not any(m.inferred for m in diagram.messages)


def test_an_event_stored_before_the_request_that_caused_it_is_drawn_right_after_that_request() -> None:
    session = Session()
    session.event(5.001, "container-destroy")  # the watcher won the race to the store
    session.request(5.0, 300, "3.1", "DELETE", "/containers/c1")
    session.answer(5.002, 300, "3.1", "DELETE", "/containers/c1", 204, 5.0)
    labels = [m.label for m in sequence(session.rows).messages]
    assert labels == ["types `docker rm c1`", "remove container c1", "remove container c1", "204",
                      "prints the result, exit 0"]


def test_a_registry_whose_clock_is_two_seconds_off_still_joins_the_pull_that_caused_it() -> None:
    for skew in (-2.0, 2.0):
        session = Session()
        session.request(20.0, 400, "4.1", "POST", "/images/create", fromImage="127.0.0.1:5000/lab/app", tag="1")
        session.answer(20.0, 400, "4.1", "POST", "/images/create", 200, 20.0, streamed=True)
        session.add(20.1 + skew, "registry", "registry-pull", "lab/app:1", repository="lab/app", target="manifest",
                    method="GET", user_agent="docker/20.10.24")
        session.stream_end(20.3, 400, "4.1", "POST", "/images/create", 20.0)
        diagram = sequence(session.rows)
        assert box_of(diagram, "download manifest") == "docker pull 127.0.0.1:5000/lab/app:1", skew


def test_a_registry_request_that_no_daemon_made_keeps_its_own_client_during_a_pull_of_the_same_image() -> None:
    session = Session()
    session.request(20.0, 400, "4.1", "POST", "/images/create", fromImage="127.0.0.1:5000/lab/app", tag="1")
    session.answer(20.0, 400, "4.1", "POST", "/images/create", 200, 20.0, streamed=True)
    session.add(20.1, "registry", "registry-pull", "lab/app:1", repository="lab/app", target="manifest",
                method="GET", user_agent="docker/20.10.24")
    session.add(20.15, "registry", "registry-pull", "lab/app:1", repository="lab/app", target="manifest",
                method="GET", user_agent="curl/7.88.1")  # someone else, at the same moment
    session.stream_end(20.3, 400, "4.1", "POST", "/images/create", 20.0)
    diagram = sequence(session.rows)
    curl, answer = [m for m in diagram.messages if m.observation == 4]
    assert curl.sender == answer.receiver == "client:curl/7.88.1"
    assert curl.receiver == answer.sender == "registry:127.0.0.1:5000"
    assert diagram.interactions[curl.interaction].title != "docker pull 127.0.0.1:5000/lab/app:1"


def test_an_event_for_a_container_nobody_asked_about_is_drawn_as_inferred() -> None:
    session = Session()
    session.request(1.0, 500, "5.1", "GET", "/containers/json")
    session.answer(1.01, 500, "5.1", "GET", "/containers/json", 200, 1.0)
    session.add(1.005, "daemon", "container-die", "", id="f" * 64, exitCode="1")  # no name: never seen
    diagram = sequence(session.rows)
    (died,) = [m for m in diagram.messages if "exited" in m.label]
    assert died.inferred and diagram.interactions[died.interaction].title.endswith("(inferred)")
    assert died.label == "ffffffffffff exited with code 1"
    assert box_of(diagram, "list containers") == "docker ps"


def test_a_hijacked_stream_that_never_closes_stays_an_open_span_and_owns_its_containers_end() -> None:
    session = Session()
    session.request(1.0, 600, "6.1", "POST", f"/containers/{C1}/attach", stream="1", stdout="1")
    session.add(1.0, "tap", "api-call", "POST /containers/c1/attach", method="POST",
                path=f"/containers/{C1}/attach", status=101, upgraded=True, streamed=True, pid=600, connection=6,
                span="6.1", announced=True)
    session.event(900.0, "container-die", exitCode="0")  # fifteen minutes later, and the stream is still open
    sequencer = Sequencer()
    messages = [m for row in session.rows for m in sequencer.add(row).messages]
    assert [m.label for m in messages][-1] == "c1 exited with code 0"
    assert not messages[-1].inferred
    assert not any(m.label.startswith(("prints", "exit")) for m in messages)  # the client has not ended


def test_a_wait_that_ran_half_a_minute_owns_its_containers_end_among_a_crowd_of_short_requests() -> None:
    session = Session()
    session.request(1.0, 100, "1.1", "POST", f"/containers/{C1}/wait", condition="next-exit")
    for number in range(30):  # meanwhile, other clients stop other containers, one a second, each in 0.2 s
        other, span, at = f"c{number + 2}", f"{number + 10}.1", 2.0 + number
        session.request(at, 200 + number, span, "POST", f"/containers/{other}/stop")
        session.add(at + 0.1, "daemon", "container-die", other, id=f"{other}-id", name=other, exitCode="0")
        session.answer(at + 0.2, 200 + number, span, "POST", f"/containers/{other}/stop", 204, at)
    session.event(31.5, "container-die", exitCode="3")
    session.answer(31.6, 100, "1.1", "POST", f"/containers/{C1}/wait", 200, 1.0)
    whole = sequence(session.rows)
    assert box_of(whole, "c1 exited with code 3") == f"docker wait {C1[:12]}"
    sequencer = Sequencer()  # live, the wait is still open when the container ends
    live = {m.label: m for row in session.rows for m in sequencer.add(row).messages}
    died = live["c1 exited with code 3"]
    assert not died.inferred and sequencer.interactions[died.interaction].title == f"docker wait {C1[:12]}"


def test_a_client_that_vanishes_mid_request_is_drawn_with_what_it_got() -> None:
    session = Session()
    session.request(1.0, 700, "7.1", "POST", "/images/create", fromImage="127.0.0.1:5000/lab/app", tag="1")
    session.answer(1.5, 700, "7.1", "POST", "/images/create", 0, 1.0, reason="no answer: the client went away first")
    labels = [m.label for m in sequence(session.rows).messages]
    assert labels == ["types `docker pull 127.0.0.1:5000/lab/app:1`", "pull 127.0.0.1:5000/lab/app:1",
                      "no answer: the client went away first"]


def test_live_folding_and_the_whole_diagram_agree_when_causes_come_first() -> None:
    session = Session()
    session.request(1.0, 800, "8.1", "POST", "/containers/create", name="c1")
    session.event(1.01, "container-create", image="busybox")
    session.answer(1.02, 800, "8.1", "POST", "/containers/create", 201, 1.0, container=C1)
    session.request(1.03, 800, "8.2", "POST", f"/containers/{C1}/start")
    session.event(1.04, "container-start")
    session.answer(1.05, 800, "8.2", "POST", f"/containers/{C1}/start", 204, 1.03)
    sequencer = Sequencer()
    live: dict[str, Any] = {}
    for row in session.rows:
        for message in sequencer.add(row).messages:
            live[message.id] = message
    whole = sequence(session.rows)
    assert [m.id for m in whole.messages] == list(live)
    assert {m.id: m.label for m in whole.messages} == {i: m.label for i, m in live.items()}
    assert whole.messages[0].label == "types `docker run -d --name c1 busybox`"


def test_every_effect_the_rules_table_names_is_a_kind_archviz_knows() -> None:
    named = {kind for endpoint in ENDPOINTS for kind in endpoint.causes}
    assert sorted(named - ALL_KINDS) == []


def test_an_endpoint_the_table_does_not_know_is_said_as_it_came_and_causes_nothing() -> None:
    endpoint = endpoint_for("PATCH", "/plugins/{weird}")
    assert endpoint.says("/plugins/{weird}", {}) == "PATCH /plugins/{weird}"
    assert not endpoint.causes


def test_a_live_fold_forgets_what_ended_long_ago_but_not_a_stream_still_open() -> None:
    session = Session()
    session.request(0.0, 900, "9.1", "POST", f"/containers/{C1}/attach", stream="1")
    session.add(0.0, "tap", "api-call", "POST /containers/c1/attach", method="POST", path=f"/containers/{C1}/attach",
                status=101, upgraded=True, streamed=True, pid=900, connection=9, span="9.1", announced=True)
    for number in range(6000):  # a client process a second, each listing the containers
        span = f"{10 + number}.1"
        session.request(1.0 + number, 1000 + number, span, "GET", "/containers/json")
        session.answer(1.01 + number, 1000 + number, span, "GET", "/containers/json", 200, 1.0 + number)
    session.event(7000.0, "container-die", exitCode="0")
    sequencer = Sequencer()
    messages = [m for row in session.rows for m in sequencer.add(row).messages]
    assert len(sequencer.spans.spans) < 4200 and len(sequencer.interactions) < 4200
    assert messages[-1].label == "c1 exited with code 0" and not messages[-1].inferred


def test_the_named_volume_a_run_creates_belongs_to_its_create_even_once_the_container_id_is_known() -> None:
    session = Session()
    session.request(1.0, 1100, "11.1", "POST", "/containers/create")
    session.add(1.005, "daemon", "volume-create", "v1", id="v1", driver="local")
    session.event(1.01, "container-create", image="busybox")
    session.answer(1.02, 1100, "11.1", "POST", "/containers/create", 201, 1.0, container=C1)
    diagram = sequence(session.rows)
    (created,) = [m for m in diagram.messages if m.label == "create volume v1"]
    assert not created.inferred
    assert diagram.interactions[created.interaction].title == "docker create busybox"


def test_a_pull_through_a_mirror_is_drawn_to_the_registry_that_answered_whole_and_live() -> None:
    rows = scenario("pull-hub-mirror")  # `docker pull nginx`, answered by dockerd's mirror on 127.0.0.1:5000
    whole = sequence(rows)
    assert [p.id for p in whole.participants if p.role == "registry"] == ["registry:127.0.0.1:5000"]
    sequencer = Sequencer()
    live = [m for row in rows for m in sequencer.add(row).messages]
    assert {m.receiver for m in live if m.receiver.startswith("registry:")} == {"registry:127.0.0.1:5000"}
    title = next(i.title for i in whole.interactions.values())
    assert title == "docker pull nginx"


def test_a_tcp_client_with_no_process_known_is_one_box_per_command_it_pings_for() -> None:
    session = Session()

    def tcp(at: float, span: str, method: str, path: str, status: int, **query: str) -> None:
        connection = int(span.split(".")[0])
        for kind, when in (("api-request", at), ("api-call", at)):
            session.add(when, "tap", kind, f"{method} {path}", method=method, path=path, query=query, status=status,
                        connection=connection, span=span, peer="10.0.0.7", announced=True, duration_ms=1,
                        user_agent="Docker-Client/28.2.2 (linux)")

    tcp(1.0, "1.1", "HEAD", "/_ping", 200)
    tcp(1.01, "1.2", "GET", "/version", 200)
    tcp(1.5, "2.1", "HEAD", "/_ping", 200)  # the next command, half a second later, on a new connection
    tcp(1.51, "2.2", "POST", "/containers/create", 201)
    tcp(1.52, "3.1", "POST", "/containers/abc/attach", 101, stream="1")  # a third connection of the same run
    tcp(1.53, "2.3", "POST", "/containers/abc/start", 204)
    diagram = sequence(session.rows)
    assert [i.title for i in diagram.interactions.values()] == ["docker version", "docker run"]
    clients = {p.label for p in diagram.participants if p.role == "client"}
    assert clients == {"Client Docker-Client/28.2.2 (TCP from 10.0.0.7)"}
