"""Settings of the portal processes a drill starts (gunicorn, Celery workers): the benchmarks'
production settings on loopback (`bench.settings`), with the drills' mail backend, which
writes each email to a file of its own (`tests.integration.drill_mail`) so the drill can count
what went out."""

from bench.settings import *  # noqa: F403

EMAIL_BACKEND = "tests.integration.drill_mail.EmailBackend"
