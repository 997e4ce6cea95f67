"""The portal's URLs plus the bench baselines: bare views on the same stack."""

from __future__ import annotations

from django.urls import path

from hms_portal.urls import handler500  # noqa: F401  (the portal's error answers)
from hms_portal.urls import urlpatterns as portal_urlpatterns

from . import views

urlpatterns = [
    path("bench/bare-insert/", views.bare_insert, name="bench_bare_insert"),
    path("bench/signed-in-insert/", views.signed_in_insert, name="bench_signed_in_insert"),
    path("bench/ping/", views.ping, name="bench_ping"),
    *portal_urlpatterns,
]
