"""Supervisors, finance officers and auditors see the outcome figures (re-sync the role groups
from `core.roles`)."""

from django.db import migrations

from core.roles import sync_roles_in_migration


class Migration(migrations.Migration):
    dependencies = [
        ("oversight", "0002_seed_us_federal_holidays"),
        # After every other app's latest migration: the sync sets the groups' permissions
        # exactly, from the permissions that exist by then.
        ("allocations", "0007_fund_officers"),
        ("governance", "0010_duty_conflicts_seed"),
        ("ledger", "0015_checkpoint_hourly"),
        ("service_requests", "0009_request_drafts"),
        ("exchange", "0002_roles"),
        ("integrations", "0003_roles_data_migration"),
        ("core", "0003_roles_security_log"),
        ("hms_portal", "0003_roles_clearing"),
    ]

    operations = [migrations.RunPython(sync_roles_in_migration, migrations.RunPython.noop)]
