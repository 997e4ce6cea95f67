"""The Celery application: broker from `REDIS_URL`; without it tasks run in-process."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hms_portal.settings")

app = Celery("hms_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Every worker process drains the outboxes the requests write (PostgreSQL LISTEN/NOTIFY).
from hms_portal.outbox import OutboxDrainStep  # noqa: E402

app.steps["worker"].add(OutboxDrainStep)
