"""Warm a web process before it takes traffic, so no person pays for a fresh worker.

A fresh gunicorn worker would spend its first request importing modules, building the URL
resolver, compiling templates, loading translation catalogues and filling the admin's lazy
caches. `warm_process` does all of that, drawing each daily admin list once; gunicorn runs it
once in the master (`gunicorn.conf.py`, with `preload_app`) and closes the master's database
connection, and every worker forked after shares the result. `warm_worker` runs in each
worker after the fork: it opens the worker's own database connection and fills the per-process
content-type cache the admin reads on every page; it is best effort (a database that is away at
start-up must not stop the worker: the health checks report it).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.template import TemplateDoesNotExist, TemplateSyntaxError, engines
from django.template.utils import get_app_template_dirs
from django.urls import get_resolver, reverse
from django.utils import translation

logger = logging.getLogger(__name__)


def _template_names(directory: Path) -> list[str]:
    return sorted(
        str(path.relative_to(directory)) for path in directory.rglob("*.html") if path.is_file()
    )


def compile_templates() -> int:
    """Compile (and cache, with the cached loader) every HTML template of the project's
    template directories and of the admin and unfold; return how many compiled."""
    compiled = 0
    for engine in engines.all():
        django_engine = getattr(engine, "engine", None)
        if django_engine is None:
            continue
        for directory in (*django_engine.dirs, *get_app_template_dirs("templates")):
            root = Path(directory)
            in_project = root.is_relative_to(settings.BASE_DIR) and ".venv" not in root.parts
            for name in _template_names(root):
                if not in_project and not name.startswith(("admin/", "unfold/")):
                    continue
                try:
                    engine.get_template(name)
                except (TemplateDoesNotExist, TemplateSyntaxError):
                    continue  # a fragment meant for another engine or an optional library
                compiled += 1
    return compiled


def warm_process() -> dict[str, float]:
    """Imports, URL resolver, templates, translation catalogues, and one drawing of each daily
    admin list (which reads the database: the caller closes the connection before forking).
    Returns the seconds each step took."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    apps.check_apps_ready()
    resolver = get_resolver()
    resolver.resolve("/")  # fills the resolver's reverse dictionaries and patterns
    reverse("admin:index")
    timings["urls"] = time.perf_counter() - started

    started = time.perf_counter()
    compiled = compile_templates()
    timings["templates"] = time.perf_counter() - started

    started = time.perf_counter()
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            translation.gettext("Select record")
    timings["translations"] = time.perf_counter() - started

    started = time.perf_counter()
    drawn = draw_daily_lists()
    timings["lists"] = time.perf_counter() - started
    logger.info(
        "warm-up: URLs %.0f ms, %d templates %.0f ms, catalogues %.0f ms, %d lists %.0f ms",
        timings["urls"] * 1000,
        compiled,
        timings["templates"] * 1000,
        timings["translations"] * 1000,
        drawn,
        timings["lists"] * 1000,
    )
    return timings


# The admin lists staff open every day, drawn once at start-up (see `draw_daily_lists`).
DAILY_LISTS = (
    "service_requests.ServiceRequest",
    "governance.ApprovalCase",
    "allocations.Claim",
    "ledger.Transfer",
    "ledger.Account",
    "allocations.AllocationRound",
    "integrations.Delivery",
)


def draw_daily_lists() -> int:
    """Draw each daily admin list once, as an unsaved superuser straight through its
    `changelist_view` (no middleware, no session, nothing written), so that everything the
    first real page would load lazily is loaded: template lookups that find nothing, regular
    expressions, date formats, the admin's per-model caches. Reads one page of each list;
    returns how many drew. Best effort: a list that fails is skipped."""
    from django.contrib import admin
    from django.contrib.auth import get_user_model
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.contrib.sessions.backends.base import SessionBase
    from django.db import DatabaseError
    from django.test import RequestFactory

    user = get_user_model()(username="warm-up", is_active=True, is_staff=True, is_superuser=True)
    drawn = 0
    for label in DAILY_LISTS:
        model = apps.get_model(label)
        model_admin = admin.site._registry.get(model)
        if model_admin is None:
            continue
        request = RequestFactory().get("/admin/")
        request.user = user
        request.session = SessionBase()  # in memory, never saved
        request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
        try:
            response = model_admin.changelist_view(request)
            response.render()  # type: ignore[attr-defined]
        except (DatabaseError, LookupError, ValueError, TypeError, AttributeError):
            logger.warning("warm-up: the %s list did not draw", label, exc_info=True)
            continue
        drawn += 1
    return drawn


def warm_worker() -> None:
    """The worker's database connection and content-type cache (best effort)."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import DatabaseError

    try:
        ContentType.objects.get_for_models(*apps.get_models())
    except DatabaseError:
        logger.warning("warm-up: the database did not answer; the worker starts cold")
