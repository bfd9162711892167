"""archviz's own middleware: who the client is behind a proxy (`behind_proxy`, first of all), and the login every
page needs when ARCHVIZ_REQUIRE_LOGIN is on (`require_login`)."""

from __future__ import annotations

from collections.abc import Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import sync_and_async_middleware

from archviz.proxies import client_address, is_trusted

# Paths that carry their own authentication (the login page, the admin) or hold nothing private (the probes and the
# metrics: whether the parts answer, and counts). The registry webhook never reaches Django (archviz.hooks): its
# bearer token is its authentication.
OPEN_PREFIXES = ("/login/", "/admin/", "/static/", "/api/health", "/healthz", "/readyz", "/metrics")


# The proxy headers Django could read (X-Forwarded-Proto with SECURE_PROXY_SSL_HEADER; Host and Port are off): dropped
# from every request that no trusted proxy sent, so nothing after this middleware can believe a client's own.
FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PORT")


def _see_through(request: HttpRequest) -> None:
    """REMOTE_ADDR becomes the client's address when a trusted proxy forwarded the request (archviz.proxies);
    otherwise the X-Forwarded-* headers are dropped and the peer stays the client."""
    meta, proxies = request.META, settings.ARCHVIZ_TRUSTED_PROXIES
    peer = meta.get("REMOTE_ADDR") or ""
    if proxies and is_trusted(peer, proxies):
        meta["REMOTE_ADDR"] = client_address(peer, meta.get("HTTP_X_FORWARDED_FOR"), proxies)
        return
    for header in FORWARDED:
        meta.pop(header, None)


@sync_and_async_middleware
def behind_proxy(get_response: Callable) -> Callable:
    """Before anything reads the client's address or the request's scheme: see through trusted proxies only."""
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            _see_through(request)
            return await get_response(request)

        return markcoroutinefunction(async_middleware)

    def middleware(request: HttpRequest) -> HttpResponse:
        _see_through(request)
        return get_response(request)

    return middleware


def _refusal(request: HttpRequest, user_authenticated: bool) -> HttpResponse | None:
    if not settings.ARCHVIZ_REQUIRE_LOGIN or user_authenticated or request.path.startswith(OPEN_PREFIXES):
        return None
    if request.path.startswith("/api/"):
        return JsonResponse({"error": "log in first: this dashboard requires a login"}, status=401)
    return redirect_to_login(request.get_full_path())


@sync_and_async_middleware
def require_login(get_response: Callable) -> Callable:
    """With ARCHVIZ_REQUIRE_LOGIN, every page and API needs a Django login. Async-capable, so that it adds no
    hop between the event loop and a thread to the request."""
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            refusal = None
            if settings.ARCHVIZ_REQUIRE_LOGIN and not request.path.startswith(OPEN_PREFIXES):
                user = await request.auser()
                refusal = _refusal(request, user.is_authenticated)
            return refusal or await get_response(request)

        return markcoroutinefunction(async_middleware)

    def middleware(request: HttpRequest) -> HttpResponse:
        refusal = None
        if settings.ARCHVIZ_REQUIRE_LOGIN and not request.path.startswith(OPEN_PREFIXES):
            refusal = _refusal(request, request.user.is_authenticated)
        return refusal or get_response(request)

    return middleware



