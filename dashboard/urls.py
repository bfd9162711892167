from __future__ import annotations

from django.contrib import admin
from django.urls import path

from archviz import views

urlpatterns = [
    path("", views.live, name="live"),
    path("api/health", views.health, name="health"),
    path("admin/", admin.site.urls),
]
