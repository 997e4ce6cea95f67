"""Baseline views of the benchmarks: the least a Django view on this stack can do."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse
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


@require_GET
def ping(request: HttpRequest) -> HttpResponse:
    """Answer 200 without touching the database: tells the benchmark gunicorn is up."""
    return HttpResponse("ok", content_type="text/plain")
