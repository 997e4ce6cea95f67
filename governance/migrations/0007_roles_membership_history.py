"""Give the role groups the view permission of the membership history (auditors read
everything of ours)."""

from django.db import migrations

from core.roles import sync_roles_in_migration


class Migration(migrations.Migration):
    dependencies = [("governance", "0006_group_membership_snapshot")]

    operations = [migrations.RunPython(sync_roles_in_migration, migrations.RunPython.noop)]
