"""Give the role groups the view permissions of governance's new models (auditors read
everything; the permissions did not exist when the roles were first synced)."""

from django.db import migrations

from core.roles import sync_roles_in_migration


class Migration(migrations.Migration):
    dependencies = [
        ("governance", "0003_delegation_no_overlap"),
        ("hms_portal", "0001_roles"),
    ]

    operations = [migrations.RunPython(sync_roles_in_migration, migrations.RunPython.noop)]
