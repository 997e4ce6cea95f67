"""The separation-of-duties rules the bureau starts with: auditors and administrators never
decide approval cases (directly or by delegation); a fund's finance officer never approves
that fund's allocation rounds. Auditors get to read the rules (the role groups are synced
again, now that the model's permissions exist)."""

from typing import Any

from django.db import migrations
from django.utils import timezone

from core.roles import sync_roles_in_migration

RULES = [
    ("auditor", "decide", "Auditors examine decisions; they never make them."),
    ("administrator", "decide", "Administrators configure authority; they never exercise it."),
    (
        "finance_officer",
        "approve_own_fund_round",
        "A fund's finance officer prepares its rounds; someone else approves them.",
    ),
]


def seed(apps: Any, schema_editor: Any) -> None:
    conflict = apps.get_model("governance", "DutyConflict")
    history = apps.get_model("governance", "HistoricalDutyConflict")
    now = timezone.now()
    for holder, duty, reason in RULES:
        rule, created = conflict.objects.get_or_create(
            holder=holder, duty=duty, defaults={"reason": reason}
        )
        if created:  # on the record from the start, as every change after it
            history.objects.create(
                id=rule.pk,
                holder=holder,
                duty=duty,
                reason=reason,
                history_date=now,
                history_type="+",
                history_change_reason="seeded by migration 0010",
            )


def unseed(apps: Any, schema_editor: Any) -> None:
    conflict = apps.get_model("governance", "DutyConflict")
    for holder, duty, _reason in RULES:
        conflict.objects.filter(holder=holder, duty=duty).delete()


class Migration(migrations.Migration):
    dependencies = [("governance", "0009_duty_conflicts")]

    operations = [
        migrations.RunPython(seed, unseed),
        migrations.RunPython(sync_roles_in_migration, migrations.RunPython.noop),
    ]
