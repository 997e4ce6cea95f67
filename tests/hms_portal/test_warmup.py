"""The web process warms itself before taking traffic (hms_portal/warmup.py, gunicorn.conf.py)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from django.conf import settings

from hms_portal import warmup


@pytest.mark.django_db
def test_warm_process_compiles_templates_and_draws_every_daily_list():
    timings = warmup.warm_process()
    assert set(timings) == {"urls", "templates", "translations", "lists"}
    assert warmup.compile_templates() > 100
    assert warmup.draw_daily_lists() == len(warmup.DAILY_LISTS)


@pytest.mark.django_db
def test_warm_worker_fills_the_content_type_cache(django_assert_num_queries):
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()
    warmup.warm_worker()
    with django_assert_num_queries(0):
        ContentType.objects.get_for_model(ContentType)


def test_the_gunicorn_config_preloads_and_warms():
    config = runpy.run_path(str(Path(settings.BASE_DIR) / "gunicorn.conf.py"))
    assert config["preload_app"] is True
    assert callable(config["when_ready"])
    assert callable(config["post_fork"])


def test_the_procfile_serves_with_the_gunicorn_config():
    procfile = (Path(settings.BASE_DIR) / "Procfile").read_text()
    assert "gunicorn -c gunicorn.conf.py hms_portal.wsgi" in procfile
