"""The classroom's HTTP API: the present view's data, and saved sessions (list, export, keep, import)."""

from __future__ import annotations

import gzip
import re
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from archviz.classroom import sessions
from archviz.classroom.answers import answer
from archviz.classroom.present import present
from archviz.models import StoredObservation
from archviz.query import QueryError, parse_instant, time_range

# A present view of the live store folds at most this many observations (a session holds at most its own limit).
RANGE_OBSERVATIONS = 20_000
PRESENT_PARAMETERS = {"session", "since", "until"}
_GZIP = re.compile(r"\bgzip\b")  # as Django's GZipMiddleware reads Accept-Encoding


def _error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _refusal(request: HttpRequest) -> JsonResponse | None:
    user = request.user
    if not user.is_authenticated:
        return _error("log in as a staff user to keep or import sessions (/login/)", 403)
    if not user.is_staff:
        return _error("only staff users may keep or import sessions", 403)
    return None


@require_GET
def present_api(request: HttpRequest) -> HttpResponse:
    """`?session=NAME`, or `?since=&until=` (Unix seconds or ISO 8601) over the live store."""
    query = request.GET.dict()
    unknown = sorted(set(query) - PRESENT_PARAMETERS)
    if unknown:
        return _error(f"unknown parameter {', '.join(unknown)}: use session=NAME, or since= and until=")
    if "session" in query:
        if len(query) > 1:
            return _error("give either session=NAME or since=/until=, not both")
        name = query["session"]
        kept = _session_answer(name)
        if kept is None:
            return _error(f"no session named {name[:80]!r}: /api/sessions/ lists them", 404)
        return _json(request, kept)
    try:
        since, until = time_range(query)
    except QueryError as error:
        return _error(str(error))
    rows = StoredObservation.objects.order_by("id")
    if since is not None:
        rows = rows.filter(time_ns__gte=since)
    if until is not None:
        rows = rows.filter(time_ns__lte=until)
    rows = rows[:RANGE_OBSERVATIONS]
    # What the range holds now: a late observation (a registry's retried delivery) changes the count or the last id.
    ids = list(rows.values_list("id", flat=True))
    key = ("range", since, until, len(ids), ids[-1] if ids else 0)
    return _json(request, answer(key, lambda: present(StoredObservation.wires(rows, "id"))))


def _session_answer(name: str) -> bytes | None:
    """A session's present answer, made now if it is not kept; None when there is no session of that name."""
    version = sessions.version(name)
    if version is None:
        return None

    def of_session() -> dict[str, Any]:
        session = sessions.load(name)
        assert session is not None
        return present(session.observations, session.heading())

    return answer(("session", name, version), of_session)


def _json(request: HttpRequest, compressed: bytes) -> HttpResponse:
    """A kept answer as it is kept (gzip) to a client that takes gzip, decompressed to any other."""
    if _GZIP.search(request.headers.get("Accept-Encoding", "")):
        response = HttpResponse(compressed, content_type="application/json")
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(gzip.decompress(compressed), content_type="application/json")
    patch_vary_headers(response, ["Accept-Encoding"])
    return response


@require_http_methods(["GET", "POST"])
def sessions_api(request: HttpRequest) -> JsonResponse:
    """GET: every session. POST (staff): keep a time range as a session: name, since, until, title."""
    if request.method == "GET":
        return JsonResponse({"sessions": sessions.catalogue()})
    if (refusal := _refusal(request)) is not None:
        return refusal
    form = request.POST
    try:
        since, until = parse_instant("since", form.get("since", "")), parse_instant("until", form.get("until", ""))
        if since > until:
            raise QueryError("since is after until: swap them")
        kept = sessions.save_range(form.get("name", ""), form.get("title", "")[:200], since, until)
    except (QueryError, sessions.SessionError) as error:
        return _error(str(error))
    _session_answer(kept.name)  # the page opens it next: its first open is then as quick as the ones after
    return JsonResponse(kept.summary(shipped=False), status=201)


@require_GET
def session_file(request: HttpRequest, name: str) -> HttpResponse:
    """One session as the file `session import` and the import button take."""
    session = sessions.load(name)
    if session is None:
        return _error(f"no session named {name[:80]!r}: /api/sessions/ lists them", 404)
    response = JsonResponse(session.to_json(), json_dumps_params={"ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="{session.name}.json"'
    return response


@require_POST
def session_import(request: HttpRequest) -> JsonResponse:
    """POST (staff) a session file as the body (or as the form's `file`); `?as=NAME` keeps it under NAME."""
    if (refusal := _refusal(request)) is not None:
        return refusal
    try:
        session = sessions.parse(_body(request))
        if request.GET.get("as"):
            session = sessions.SessionFile(sessions.check_name(request.GET["as"]), session.title, session.since_ns,
                                           session.until_ns, session.observations)
        sessions.store(session)
    except sessions.SessionTooBig as error:
        return _error(str(error), 413)
    except sessions.SessionError as error:
        return _error(str(error))
    _session_answer(session.name)  # the page opens it next: its first open is then as quick as the ones after
    return JsonResponse(session.summary(shipped=False), status=201)


def _body(request: HttpRequest) -> bytes:
    """The file: the form's `file` if it sent one, else the body; read no further than one byte past the limit."""
    limit = sessions.max_bytes()
    upload = request.FILES.get("file") if request.content_type == "multipart/form-data" else None
    stream = upload if upload is not None else request
    return stream.read(limit + 1)
