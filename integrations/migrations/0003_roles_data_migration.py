"""Finance officers import and export data and read the import runs (re-sync the role groups)."""

from django.db import migrations

from core.roles import sync_roles_in_migration


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0002_data_imports"),
        ("hms_portal", "0003_roles_clearing"),
    ]

    operations = [migrations.RunPython(sync_roles_in_migration, migrations.RunPython.noop)]
