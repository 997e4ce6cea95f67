"""Create the role groups (data migration, reversible)."""

from django.db import migrations

from core.roles import sync_roles_in_migration


def backward(apps, schema_editor):
    from core.roles import ROLES

    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("ledger", "0003_ledger_head"),
        ("governance", "0001_initial"),
        ("allocations", "0001_initial"),
        ("service_requests", "0001_initial"),
    ]

    operations = [migrations.RunPython(sync_roles_in_migration, backward)]
