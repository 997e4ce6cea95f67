"""`/open311/v2/`: GeoReport v2, each endpoint with an optional `.json` or `.xml` suffix."""

from django.urls import re_path

from . import open311

app_name = "open311"

FMT = r"(?P<fmt>\.[a-zA-Z]+)?$"

urlpatterns = [
    re_path(r"^discovery" + FMT, open311.discovery, name="discovery"),
    re_path(r"^services" + FMT, open311.service_list, name="services"),
    re_path(r"^services/(?P<code>[^/.]+)" + FMT, open311.service_definition, name="service"),
    re_path(r"^requests" + FMT, open311.request_list, name="requests"),
    re_path(
        r"^requests/(?P<service_request_id>[^/.]+)" + FMT,
        open311.request_detail,
        name="request",
    ),
    re_path(r"^tokens/(?P<token>[^/.]+)" + FMT, open311.token_detail, name="token"),
]
