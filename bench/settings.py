"""Settings of the benchmarks: the portal's own settings, served over plain HTTP on loopback.

Only what the benchmark needs differs from production: a fixed secret key, loopback hosts, no
HTTPS redirect or secure cookies (there is no TLS on 127.0.0.1), the bench URLs and a dummy
email backend. The database, Redis cache, sessions, middleware and Celery are the portal's.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

# hms_portal.settings requires these when DEBUG is off; the benchmark also passes them to every
# process it starts, these defaults only make `bench.settings` usable on its own.
os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production-" + "b" * 32)
os.environ.setdefault("HMS_LEDGER_CHECKPOINT_KEY", "bench-checkpoint-key-not-for-production")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
# Never the developer's SQLite file: the bench database and Redis database unless told otherwise.
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hms_bench_submit")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")

from hms_portal.settings import *  # noqa: F403

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    raise ImproperlyConfigured("The benchmarks run on PostgreSQL: set DATABASE_URL to it.")

DEBUG = False
SECRET_KEY = os.environ["SECRET_KEY"]
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "bench.urls"

SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False

EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"

# No collected static files on the bench machine: plain storage keeps `{% static %}` working on
# the GET page (the measured POST renders no template).
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# bench_public weighs pages as production serves them: WhiteNoise's hashed and compressed files
# (gzip and Brotli), collected into the directory `BENCH_STATIC_ROOT` names.
if os.environ.get("BENCH_STATIC_ROOT"):
    STATIC_ROOT = Path(os.environ["BENCH_STATIC_ROOT"])
    STORAGES = {
        **STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

# bench_public posts thousands of /track/ lookups from one address for one tracking number: its
# rate limits (10 per 15 minutes in production) are raised to `BENCH_TRACK_LIMIT`.
if os.environ.get("BENCH_TRACK_LIMIT"):
    HMS_REQUESTS_TRACK_LIMIT_PER_CLIENT = int(os.environ["BENCH_TRACK_LIMIT"])
    HMS_REQUESTS_TRACK_LIMIT_PER_NUMBER = int(os.environ["BENCH_TRACK_LIMIT"])

# bench_webhooks delivers to a plain-http receiver on 127.0.0.1, which production refuses.
HMS_WEBHOOK_ALLOW_HTTP = True
HMS_WEBHOOK_ALLOW_PRIVATE_TARGETS = True

# bench_submission and bench_load file thousands of requests from one address and a few
# accounts: the filing limits (docs/civilians.md) are raised to `BENCH_FILING_LIMIT`.
if os.environ.get("BENCH_FILING_LIMIT"):
    HMS_REQUESTS_FILING_LIMIT_PER_CLIENT = int(os.environ["BENCH_FILING_LIMIT"])
    HMS_REQUESTS_FILING_LIMIT_PER_ACCOUNT_SHORT = int(os.environ["BENCH_FILING_LIMIT"])
    HMS_REQUESTS_FILING_LIMIT_PER_ACCOUNT_LONG = int(os.environ["BENCH_FILING_LIMIT"])
