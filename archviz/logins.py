"""The login page (`/login/`) and logout (`POST /logout/`): Django's own auth views, with failed logins limited.

1. A POST from an address, or for a user name, that failed ARCHVIZ_LOGIN_ATTEMPTS times in this window is answered
   429, saying when to try again (and `Retry-After`), before anything is checked: no password is tried.
2. Otherwise Django's LoginView checks the form (CSRF, then the credentials); each refusal counts one failure for
   the address and one for the name (archviz.attempts).
3. Without the cache (Redis down), a login is answered 503: it cannot be counted, so it is not tried.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from redis.exceptions import RedisError

from archviz import attempts

WHOSE = {"address": "from your address", "user": "for this user name"}


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


def when(refusal: attempts.Refusal, now: float) -> str:
    """"in 14 minutes (at 10:45 UTC)", "in 40 seconds (at 10:31:10 UTC)"."""
    seconds = refusal.retry_after(now)
    at = datetime.fromtimestamp(refusal.retry_at, UTC)
    if seconds < 60:
        return f"in {seconds} second{'s' * (seconds != 1)} (at {at:%H:%M:%S} UTC)"
    minutes = -(-seconds // 60)
    return f"in {minutes} minute{'s' * (minutes != 1)} (at {at:%H:%M} UTC)"


class LoginView(auth_views.LoginView):
    template_name = "archviz/login.html"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = request.POST.get("username", "")
        now = time.time()
        try:
            refusal = attempts.refusal(client_address(request), username, now)
            if refusal is None:
                return super().post(request, *args, **kwargs)
        except RedisError:
            return self.refuse(username, 503, "Logins cannot be counted right now (the cache, Redis, does not "
                                              "answer), so none is tried: try again in a minute.")
        response = self.refuse(username, 429, f"Too many failed logins {WHOSE[refusal.who]}: try again "
                                              f"{when(refusal, now)}.")
        response["Retry-After"] = str(refusal.retry_after(now))
        return response

    def refuse(self, username: str, status: int, message: str) -> HttpResponse:
        # An unbound form: a bound one would check the credentials while the page is drawn.
        form = AuthenticationForm(self.request, initial={"username": username[:150]})
        return self.render_to_response(self.get_context_data(form=form, refused=message), status=status)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        attempts.record_failure(client_address(self.request), self.request.POST.get("username", ""), time.time())
        return super().form_invalid(form)


login = LoginView.as_view()
logout = auth_views.LogoutView.as_view()
