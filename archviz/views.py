from __future__ import annotations

import asyncio
import json
from itertools import islice
from typing import Any
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from archviz import actions, readiness
from archviz.architecture.gather import host_from_query, map_state
from archviz.audit.charts import charts
from archviz.audit.query import (
    ALL_ACTIONS,
    PAGE_SIZE,
    AuditFilter,
    blobs_query,
    export_lines,
    page,
    parse_cursor,
    parse_limit,
    references_of,
    refusal_wire,
    refusals,
    streamed,
    unknown_count,
    unknown_page,
    unknown_wire,
    wire,
)
from archviz.audit.reports import REPORTS, csv_lines, report_fields, report_page
from archviz.classroom import sessions
from archviz.classroom.sessions import load as load_session
from archviz.daemons import docker_host
from archviz.hooks import HARBOR_HOOK_PATH, HOOK_PATH, REFUSALS
from archviz.metrics import LEADING, UNPUBLISHED
from archviz.models import AuditEvent, StoredObservation, UnknownEvent
from archviz.publisher import PUBLISHER, unpublished
from archviz.query import QueryError, parameters, time_range
from archviz.reference import BadReference, parse_reference
from archviz.sequence import ROLES, sequence
from archviz.sequence.mermaid import to_mermaid
from archviz.snapshot import inventory_snapshot
from archviz.sources.registry import SOURCES, TARGET_KINDS
from archviz.tap.listen import PLAIN_TCP_RISK

# A Mermaid export folds at most this many observations (the text is cut at 50,000 characters anyway).
EXPORT_OBSERVATIONS = 5000


def _lab_registry() -> str:
    """The lab registry's address, for the commands the empty states suggest."""
    return f"127.0.0.1:{settings.ARCHVIZ_LAB_REGISTRY_PORT}"


@require_GET
def live(request: HttpRequest) -> HttpResponse:
    return render(request, "archviz/live.html", {
        "docker_host": docker_host(),
        "lab_registry": _lab_registry(),
        "roles": ROLES,
        "tap_warning": _tap_warning(),
    })


# The present view's own parameters: everything else in its address is the data's query (present-state.js
# readAddress splits an address the same way).
PRESENT_VIEW_PARAMETERS = ("presenter", "at")
PRESENT_SOURCES = ("session", "since", "until")


@require_GET
def present(request: HttpRequest) -> HttpResponse:
    """The classroom view: the page alone; it asks /api/present/ for its data with the query it was opened with.
    The page names that request in its head, so that the browser starts it before the scripts have loaded."""
    query = request.GET.copy()
    for name in PRESENT_VIEW_PARAMETERS:
        query.pop(name, None)
    api = f"/api/present/?{query.urlencode()}" if any(name in query for name in PRESENT_SOURCES) else ""
    user = request.user
    return render(request, "archviz/present.html", {
        "presenter": request.GET.get("presenter") == "1", "api": api,
        "session": request.GET.get("session", "") if sessions.NAME.fullmatch(request.GET.get("session", "")) else "",
        "can_keep": user.is_authenticated and user.is_staff,
    })


def _tap_warning() -> str:
    """What the page says while `serve` runs the tap on plain TCP (ARCHVIZ_TAP_INSECURE_LOOPBACK)."""
    address = settings.ARCHVIZ_TAP_SOCKET
    if not (address.startswith("tcp://") and settings.ARCHVIZ_TAP_INSECURE_LOOPBACK) or settings.ARCHVIZ_TAP_TLS_CA:
        return ""
    return f"It listens on {address} without TLS: {PLAIN_TCP_RISK}"


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Liveness (/healthz, and /api/health as before): the process answers."""
    return JsonResponse({"ok": True})


@require_GET
async def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when the database, the channel layer and every watched daemon answer; otherwise 503 naming
    what is not ready and why."""
    checks = [await sync_to_async(readiness.database)(), await readiness.channel_layer()]
    if checks[0].ok:
        checks += await sync_to_async(readiness.daemons)()
    failing = [check.name for check in checks if not check.ok]
    return JsonResponse({"ready": not failing, "not_ready": failing,
                         "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in checks}},
                        status=503 if failing else 200)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format: what this process counted (archviz.metrics), and how far publishing lags."""
    UNPUBLISHED.set(unpublished())
    LEADING.set(1 if PUBLISHER.leadership.holding() else 0)
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)


@require_GET
def inventory(request: HttpRequest) -> HttpResponse:
    base = f"{_lab_registry()}/lab/busybox:1"
    tables = [
        ("container", "Containers", f"No containers yet — try: docker run --rm {base} echo hello"),
        ("image", "Images", f"No images yet — try: docker pull {base}"),
        ("layer", "Shared layers", "No layer is shared yet: build an image FROM another one, and the base's "
                                   "layers are stored once for both."),
        ("network", "Networks", "No networks."),
        ("volume", "Volumes", "No volumes yet — try: docker volume create data"),
    ]
    return render(request, "archviz/inventory.html", {
        "docker_host": docker_host(), "tables": tables, "base_image": base,
        "can_pull": action_refusal(request.user) is None, "pull_refusal": action_refusal(request.user),
    })


@require_GET
def inventory_api(request: HttpRequest) -> JsonResponse:
    """Every watched host's images (with layers), containers, networks and volumes, as archviz holds them."""
    return JsonResponse({"hosts": inventory_snapshot()})


@require_GET
def architecture_map(request: HttpRequest) -> HttpResponse:
    """The live architecture map: the lessons' block picture, drawn from live state (static/archviz/map.js)."""
    try:
        only = host_from_query(request.GET.dict())
    except QueryError as error:
        return HttpResponse(str(error), status=400, content_type="text/plain; charset=utf-8")
    return render(request, "archviz/map.html", {
        "docker_host": docker_host(), "tap_socket": settings.ARCHVIZ_TAP_SOCKET, "lab_registry": _lab_registry(),
        "hook_path": HOOK_PATH, "host": only or "",
    })


@require_GET
def map_api(request: HttpRequest) -> JsonResponse:
    """The map's state: `?host=` draws one daemon; 400 for a value that cannot be an address, 404 for one archviz
    does not know."""
    try:
        only = host_from_query(request.GET.dict())
    except QueryError as error:
        return _error(str(error), 400)
    state = map_state(only)
    if only is not None and not state["daemons"]:
        return _error(f"no daemon {only[:80]!r} on the map: leave host out to see every daemon archviz knows", 404)
    return JsonResponse(state)


@require_GET
def observation(request: HttpRequest, pk: int) -> JsonResponse:
    row = StoredObservation.objects.filter(pk=pk).first()
    if row is None:
        return JsonResponse({"error": f"no observation {pk} in the store"}, status=404)
    return JsonResponse(row.to_wire())


@require_GET
def sequence_mermaid(request: HttpRequest) -> HttpResponse:
    """The sequence diagram of a time range as Mermaid text: ?since=…&until=… (Unix seconds or ISO 8601), or of
    a saved session: ?session=NAME."""
    if "session" in request.GET:
        session = load_session(request.GET["session"])
        if session is None:
            return JsonResponse({"error": f"no session named {request.GET['session'][:80]!r}: /api/sessions/ lists "
                                          "them"}, status=404)
        return HttpResponse(to_mermaid(sequence(session.observations)), content_type="text/plain; charset=utf-8")
    try:
        since, until = time_range(request.GET.dict())
    except QueryError as error:
        return JsonResponse({"error": str(error)}, status=400)
    rows = StoredObservation.objects.order_by("id")
    if since is not None:
        rows = rows.filter(time_ns__gte=since)
    if until is not None:
        rows = rows.filter(time_ns__lte=until)
    diagram = sequence(row.to_wire() for row in rows[:EXPORT_OBSERVATIONS])
    return HttpResponse(to_mermaid(diagram), content_type="text/plain; charset=utf-8")


# The registry audit trail ---------------------------------------------------------------------------

PAGE_PARAMETERS = (*AuditFilter.PARAMETERS, "before")
# The audit page's charts (static/archviz/audit-charts.js draws each from /api/registry/chart).
AUDIT_CHARTS = (("time", "Events over time, by action (UTC)"), ("repositories", "The busiest repositories"),
                ("actors", "Events per actor (the user the registry authenticated)"))
API_PARAMETERS = (*PAGE_PARAMETERS, "limit")


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _query(request: HttpRequest, allowed: tuple[str, ...]) -> dict[str, str]:
    return parameters(dict(request.GET.lists()), allowed)


def _next_url(request: HttpRequest, kept: dict[str, Any], name: str, cursor: object) -> str | None:
    """A JSON page's `next`: this endpoint with the query kept and the next page's cursor as `name`, or None at the
    end."""
    return f"{request.path}?{urlencode({**kept, name: cursor})}" if cursor is not None else None


def _filtered_page(query: dict[str, str], size: int = PAGE_SIZE) -> tuple[AuditFilter, list[AuditEvent], str | None]:
    """The filter and the page the query string asks for; QueryError when it asks for nonsense."""
    audit_filter = AuditFilter.from_query(query)
    return audit_filter, *page(audit_filter, parse_cursor(query.get("before", "")), size)


@require_GET
def registry_page(request: HttpRequest) -> HttpResponse:
    deliveries = {"unknown_count": unknown_count(), "refusals": _refusals(), "reports": report_links()}
    try:
        audit_filter, rows, cursor = _filtered_page(_query(request, PAGE_PARAMETERS))
    except QueryError as error:
        return render(request, "archviz/registry.html", {"error": str(error), "rows": [], "query": {}, **deliveries},
                      status=400)
    query = audit_filter.as_query()
    references = references_of(rows)
    for row in rows:
        row.blobs_query = blobs_query(row, references)
        row.references = references.get(row.digest, []) if row.target_kind == "manifest" else []
    return render(request, "archviz/registry.html", {
        "rows": rows, "filter": audit_filter, "query": query, "query_string": urlencode(query),
        "next_page": urlencode({**query, "before": cursor}) if cursor else None,
        "first_page": "before" in request.GET, "actions": ALL_ACTIONS, "target_kinds": TARGET_KINDS,
        "sources": SOURCES, "registry_token_set": bool(settings.ARCHVIZ_REGISTRY_TOKEN), "hook_path": HOOK_PATH,
        "harbor_auth_set": bool(settings.ARCHVIZ_HARBOR_AUTH), "harbor_hook_path": HARBOR_HOOK_PATH, **deliveries,
        "charts": AUDIT_CHARTS, "lab_registry": _lab_registry(),
    })


def _refusals() -> list[dict[str, Any]]:
    return [{**refusal_wire(row), "reason": REFUSALS.get(row.cause, (0, row.cause))[1]} for row in refusals()]


@require_GET
def registry_events(request: HttpRequest) -> JsonResponse:
    try:
        query = _query(request, API_PARAMETERS)
        limit = parse_limit(query.get("limit", ""))
        audit_filter, rows, cursor = _filtered_page(query, limit)
    except QueryError as error:
        return _error(str(error), 400)
    kept = {**audit_filter.as_query(), **({"limit": str(limit)} if "limit" in query else {})}
    references = references_of(rows)
    return JsonResponse({"events": [wire(row, references) for row in rows],
                         "next": _next_url(request, kept, "before", cursor)})


@require_GET
def registry_chart(request: HttpRequest) -> JsonResponse:
    """The audit page's charts over the filter of the query string (archviz.audit.charts)."""
    try:
        return JsonResponse(charts(AuditFilter.from_query(_query(request, AuditFilter.PARAMETERS))))
    except QueryError as error:
        return _error(str(error), 400)


def _export(request: HttpRequest, form: str, content_type: str) -> HttpResponse:
    try:
        audit_filter = AuditFilter.from_query(_query(request, AuditFilter.PARAMETERS))
    except QueryError as error:
        return _error(str(error), 400)
    response = StreamingHttpResponse(streamed(export_lines(audit_filter, form)), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="registry-events.{form}"'
    return response


# A report's JSON pages take these besides the report's parameters (its CSV has every record).
REPORT_PAGING = ("limit", "cursor")


@require_GET
def registry_report(request: HttpRequest, name: str, form: str = "json") -> HttpResponse:
    """A report of archviz.audit.reports over the query string's filter and options: as JSON, a page of `limit`
    records from `cursor` with the address of the `next`; as CSV, all of them, streamed."""
    report = REPORTS[name]
    try:
        if form == "json":
            query = _query(request, (*report.parameters, *REPORT_PAGING))
            cursor = parse_cursor(query.pop("cursor", ""), "cursor", "the answer's \"next\" link")
            records, following = report_page(report, query, parse_limit(query.get("limit", "")), cursor)
            return JsonResponse({report.key: records, "next": _next_url(request, query, "cursor", following)})
        records = report.build(*report.read(_query(request, report.parameters)))
    except QueryError as error:
        return _error(str(error), 400)
    response = StreamingHttpResponse(streamed(csv_lines(records, report.columns)),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="registry-{name}.csv"'
    return response


REPORT_ROWS = 500


# A report's cell that names something links to it: the audit trail filtered by it, or who pulled a digest.
REPORT_CELL_LINKS = {"repository": ("registry", "repository"), "actor": ("registry", "actor"),
                     "addr": ("registry", "addr"), "digest": ("registry-pulls-page", "digest")}


def _report_link(column: str, value: object) -> str:
    if column not in REPORT_CELL_LINKS or not value:
        return ""
    name, parameter = REPORT_CELL_LINKS[column]
    return f"{reverse(name)}?{urlencode({parameter: value})}"


def report_links() -> list[tuple[str, str, str]]:
    """Each report's name, title and page, for the audit page and the reports' own."""
    return [(name, report.title, reverse(f"registry-{name}-page")) for name, report in REPORTS.items()]


@require_GET
def registry_report_page(request: HttpRequest, name: str) -> HttpResponse:
    """A report's page: a form for its filter and options, and its first REPORT_ROWS records (the CSV has all)."""
    report = REPORTS[name]
    context: dict[str, Any] = {"report": report, "reports": report_links(), "rows": [], "more": False,
                               "trail_empty": not AuditEvent.objects.exists(),
                               "api": reverse(f"registry-{name}"), "csv": reverse(f"registry-{name}-csv")}
    try:
        query = _query(request, report.parameters)
        context.update(fields=report_fields(report, query), query_string=urlencode(query))
        if report.required and not query.get(report.required, "").strip():
            return render(request, "archviz/registry_report.html", {**context, "asking": report.prompt})
        records = report.build(*report.read(query))
        found = list(islice(records, REPORT_ROWS + 1))
    except QueryError as error:
        context.setdefault("fields", report_fields(report, {}))
        return render(request, "archviz/registry_report.html", {**context, "error": str(error)}, status=400)
    rows = [[(column, record[column], _report_link(column, record[column])) for column in report.columns]
            for record in found[:REPORT_ROWS]]
    return render(request, "archviz/registry_report.html", {**context, "rows": rows,
                                                             "more": len(found) > REPORT_ROWS})


@require_GET
def registry_csv(request: HttpRequest) -> HttpResponse:
    return _export(request, "csv", "text/csv; charset=utf-8")


@require_GET
def registry_jsonl(request: HttpRequest) -> HttpResponse:
    return _export(request, "jsonl", "application/jsonl; charset=utf-8")


def _unknown(request: HttpRequest) -> tuple[list[UnknownEvent], int | None, int]:
    query = _query(request, ("before", "limit"))
    before = query.get("before", "")
    if before and not (before.isascii() and before.isdigit() and len(before) < 20):
        raise QueryError(f"before={before[:40]!r} is not a page cursor: follow the \"older\" link")
    limit = parse_limit(query.get("limit", ""))
    return *unknown_page(int(before) if before else None, limit), limit


@require_GET
def registry_unknown(request: HttpRequest) -> HttpResponse:
    """The events a registry sent in a shape archviz cannot read, kept raw."""
    try:
        rows, cursor, limit = _unknown(request)
    except QueryError as error:
        return render(request, "archviz/registry_unknown.html", {"error": str(error), "rows": []}, status=400)
    return render(request, "archviz/registry_unknown.html", {
        "rows": [unknown_wire(row) for row in rows], "count": unknown_count(),
        "next_page": urlencode({"before": cursor, "limit": limit}) if cursor else None,
        "first_page": "before" in request.GET,
    })


@require_GET
def registry_unknown_api(request: HttpRequest) -> JsonResponse:
    try:
        rows, cursor, limit = _unknown(request)
    except QueryError as error:
        return _error(str(error), 400)
    return JsonResponse({"count": unknown_count(), "unknown": [unknown_wire(row) for row in rows],
                         "next": _next_url(request, {"limit": limit}, "before", cursor)})


@require_GET
def registry_refusals_api(request: HttpRequest) -> JsonResponse:
    try:
        _query(request, ())
    except QueryError as error:
        return _error(str(error), 400)
    return JsonResponse({"refusals": _refusals()})


# Actions ------------------------------------------------------------------------------------------------

MAX_ACTION_BODY = 4096
_running: set[asyncio.Task[None]] = set()


def action_refusal(user: Any) -> str | None:
    """Why this user may not change the daemon, or None when they may."""
    if not settings.ARCHVIZ_ALLOW_ACTIONS:
        return "actions are off: set ARCHVIZ_ALLOW_ACTIONS=1 to let staff users pull images from here"
    if not user.is_authenticated:
        return "log in as a staff user to pull images (/login/)"
    if not user.is_staff:
        return "only staff users may pull images"
    return None


@require_POST
async def start_pull(request: HttpRequest) -> JsonResponse:
    """Start pulling an image: {"reference", "username"?, "password"?}. The credentials go to the daemon once."""
    refusal = action_refusal(await request.auser())
    if refusal:
        return _error(refusal, 403)
    if len(request.body) > MAX_ACTION_BODY:
        return _error(f"request over {MAX_ACTION_BODY} bytes", 413)
    try:
        form = json.loads(request.body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return _error('send JSON: {"reference": "127.0.0.1:5000/lab/busybox:1"}', 400)
    fields = ("reference", "username", "password")
    if not isinstance(form, dict) or not all(isinstance(form.get(name, ""), str) for name in fields):
        return _error('send a JSON object with a "reference" string (and optional "username" and "password")', 400)
    try:
        repository, tag = parse_reference(form.get("reference", ""))
    except BadReference as error:
        return _error(str(error), 400)
    credentials = {"username": form["username"], "password": form.get("password", "")} if form.get("username") else None
    user = await request.auser()
    create = sync_to_async(actions.create_pull, thread_sensitive=False)
    job = await create(docker_host(), repository, tag, user.get_username())
    task = asyncio.get_running_loop().create_task(
        sync_to_async(actions.run_pull, thread_sensitive=False)(job, credentials))
    _running.add(task)  # the loop holds tasks weakly
    task.add_done_callback(_running.discard)
    return JsonResponse(job.to_wire(), status=202)


@require_POST
async def cancel_pull(request: HttpRequest, job_id: str) -> JsonResponse:
    refusal = action_refusal(await request.auser())
    if refusal:
        return _error(refusal, 403)
    if not actions.cancel(job_id):
        return _error(f"no running pull {job_id[:40]!r}", 404)
    return JsonResponse({"cancelling": job_id})
