"""Finance officers run and commit exchange rounds; auditors read them (re-sync the role
groups from `core.roles`)."""

from django.db import migrations

from core.roles import sync_roles_in_migration


class Migration(migrations.Migration):
    dependencies = [
        ("exchange", "0001_initial"),
        ("hms_portal", "0003_roles_clearing"),
    ]

    operations = [migrations.RunPython(sync_roles_in_migration, migrations.RunPython.noop)]
