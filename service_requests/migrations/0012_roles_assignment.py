"""Give the role groups the permissions of the assignment models: reviewers enter their
absences and conflicts, supervisors set the rules and their reviewers' terms."""

from django.db import migrations

from core.roles import sync_roles_in_migration


class Migration(migrations.Migration):
    dependencies = [
        ("service_requests", "0011_reviewer_loads"),
        ("hms_portal", "0001_roles"),
    ]

    operations = [migrations.RunPython(sync_roles_in_migration, migrations.RunPython.noop)]
