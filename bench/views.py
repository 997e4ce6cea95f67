"""Baseline views of the benchmarks: the least a Django view on this stack can do."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

BARE_TABLE = "bench_bare"
BARE_TABLE_SQL = (
    f"CREATE TABLE IF NOT EXISTS {BARE_TABLE} "
    "(id bigserial primary key, body text, created_at timestamptz default now())"
)


@csrf_exempt
@require_POST
def bare_insert(request: HttpRequest) -> HttpResponse:
    """Insert one row (one autocommitted INSERT) and answer 201: the baseline of a write."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {BARE_TABLE} (body) VALUES (%s)",
            [request.POST.get("body", "")],
        )
    return HttpResponse(status=201)


@require_POST
def signed_in_insert(request: HttpRequest) -> HttpResponse:
    """What any signed-in civilian's submission must do before it files anything: the session
    and its user read, the form's CSRF token checked, the form body parsed. Then it inserts the
    one row the bare view inserts and redirects (302) as the real form does. It measures the
    floor of the signed-in path, not a way to file."""
    if not request.user.is_authenticated:
        return HttpResponse(status=403)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {BARE_TABLE} (body) VALUES (%s)",
            [request.POST.get("description", "")],
        )
    return HttpResponseRedirect("/requests/")


@require_GET
def ping(request: HttpRequest) -> HttpResponse:
    """Answer 200 without touching the database: tells the benchmark gunicorn is up."""
    return HttpResponse("ok", content_type="text/plain")
