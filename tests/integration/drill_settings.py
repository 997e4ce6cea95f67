"""Settings of the portal processes a drill starts: the benchmarks' production settings on
loopback, with every email written to files under `DRILL_EMAIL_DIR`, so the drill can count
what was sent."""

from __future__ import annotations

import os

from bench.settings import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["DRILL_EMAIL_DIR"]
