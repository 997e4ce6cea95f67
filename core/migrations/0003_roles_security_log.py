"""Auditors read the security log and the known devices (re-sync the role groups)."""

from django.db import migrations

from core.roles import sync_roles_in_migration


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_security_log_append_only"),
        ("hms_portal", "0003_roles_clearing"),
    ]

    operations = [migrations.RunPython(sync_roles_in_migration, migrations.RunPython.noop)]
