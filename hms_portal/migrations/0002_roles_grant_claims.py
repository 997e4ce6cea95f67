"""Finance officers may grant a fund's waiting claims (re-sync the role groups)."""

from django.db import migrations

from core.roles import sync_roles_in_migration


class Migration(migrations.Migration):
    dependencies = [
        ("hms_portal", "0001_roles"),
        ("allocations", "0003_fund_grant_claims_permission"),
        ("service_requests", "0003_request_indexes_cover_id"),
    ]

    operations = [migrations.RunPython(sync_roles_in_migration, migrations.RunPython.noop)]
