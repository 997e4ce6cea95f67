"""The reviewers' loads as they stand: a profile for everyone with requests assigned in review
statuses, counting them (every request weighs 1: no service has an effort yet)."""

from django.db import migrations
from django.db.models import Count

REVIEW_STATUSES = ["submitted", "in_review", "info_requested"]


def count_loads(apps, schema_editor):
    request_model = apps.get_model("service_requests", "ServiceRequest")
    profile_model = apps.get_model("service_requests", "ReviewerProfile")
    rows = (
        request_model.objects.filter(status__in=REVIEW_STATUSES, assignee__isnull=False)
        .values("assignee_id")
        .annotate(cases=Count("pk"))
    )
    for row in rows:
        profile_model.objects.update_or_create(
            user_id=row["assignee_id"],
            defaults={"open_cases": row["cases"], "open_effort": row["cases"]},
        )


class Migration(migrations.Migration):
    dependencies = [("service_requests", "0010_assignment")]

    operations = [migrations.RunPython(count_loads, migrations.RunPython.noop)]
