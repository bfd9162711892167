from __future__ import annotations

from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from archviz import logins, views
from archviz.audit.reports import REPORTS
from archviz.classroom import views as classroom_views

urlpatterns = [
    path("", views.live, name="live"),
    path("api/health", views.health, name="health"),
    path("healthz", views.health, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
    path("inventory/", views.inventory, name="inventory"),
    path("api/inventory/", views.inventory_api, name="inventory-api"),
    path("map/", views.architecture_map, name="map"),
    path("api/map/", views.map_api, name="map-api"),
    path("api/pulls/", views.start_pull, name="pulls"),
    path("api/pulls/<str:job_id>/cancel", views.cancel_pull, name="pull-cancel"),
    path("api/observations/<int:pk>", views.observation, name="observation"),
    path("api/sequence.mmd", views.sequence_mermaid, name="sequence-mermaid"),
    path("registry/", views.registry_page, name="registry"),
    path("api/registry/events/", views.registry_events, name="registry-events"),
    path("api/registry/events.csv", views.registry_csv, name="registry-csv"),
    # Each report of archviz.audit.reports: its page, its JSON endpoint (named registry-NAME) and its CSV.
    *(route for name in REPORTS for route in (
        path(f"registry/reports/{name}/", views.registry_report_page, {"name": name}, name=f"registry-{name}-page"),
        path(f"api/registry/reports/{name}/", views.registry_report, {"name": name}, name=f"registry-{name}"),
        path(f"api/registry/reports/{name}.csv", views.registry_report, {"name": name, "form": "csv"},
             name=f"registry-{name}-csv"),
    )),
    path("api/registry/events.jsonl", views.registry_jsonl, name="registry-jsonl"),
    path("api/registry/chart", views.registry_chart, name="registry-chart"),
    path("present/", views.present, name="present"),
    path("api/present/", classroom_views.present_api, name="present-api"),
    path("api/sessions/", classroom_views.sessions_api, name="sessions"),
    path("api/sessions/import", classroom_views.session_import, name="session-import"),
    path("api/sessions/<slug:name>.json", classroom_views.session_file, name="session-file"),
    path("registry/unknown/", views.registry_unknown, name="registry-unknown"),
    path("api/registry/unknown/", views.registry_unknown_api, name="registry-unknown-api"),
    path("api/registry/refusals/", views.registry_refusals_api, name="registry-refusals"),
    path("login/", logins.login, name="login"),
    path("logout/", logins.logout, name="logout"),
    # One login page, whose failed attempts are counted: the admin's own would let a guesser past the count.
    path("admin/login/", RedirectView.as_view(url="/login/", query_string=True)),
    path("admin/", admin.site.urls),
]
