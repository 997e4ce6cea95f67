"""Finance officers see clearing cycles and bank details, settle cycles and download ACH files
(re-sync the role groups)."""

from django.db import migrations

from core.roles import sync_roles_in_migration


class Migration(migrations.Migration):
    dependencies = [
        ("hms_portal", "0002_roles_grant_claims"),
        ("ledger", "0006_clearing"),
    ]

    operations = [migrations.RunPython(sync_roles_in_migration, migrations.RunPython.noop)]
