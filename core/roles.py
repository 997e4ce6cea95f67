"""The bureau's roles as groups with model permissions.

Model permissions say what kind of thing a role may touch; object permissions on programs
(django-guardian) say where. `sync_roles` is idempotent: migrations call it with historical
models whenever the set of permissions changes.
"""

from __future__ import annotations

from typing import Any

CIVILIAN = "civilian"
REVIEWER = "reviewer"
SUPERVISOR = "supervisor"
FINANCE_OFFICER = "finance_officer"
AUDITOR = "auditor"

_REVIEW = [
    "service_requests.view_servicerequest",
    "service_requests.change_servicerequest",
    "service_requests.view_servicetype",
    "service_requests.view_requestevent",
    "service_requests.view_assignmentrule",
    "service_requests.view_reviewerprofile",
    "service_requests.view_absence",
    "service_requests.add_absence",
    "service_requests.view_conflictflag",
    "service_requests.add_conflictflag",
    "governance.view_program",
]
_SUPERVISE = [
    *_REVIEW,
    "governance.view_approvalcase",
    "governance.view_decision",
    "oversight.view_outcomes",
    "service_requests.add_assignmentrule",
    "service_requests.change_assignmentrule",
    "service_requests.change_reviewerprofile",
]
_FINANCE = [
    "service_requests.view_servicerequest",
    "service_requests.view_servicetype",
    "service_requests.view_all_requests",
    "governance.view_program",
    "allocations.view_fund",
    "allocations.view_claim",
    "allocations.grant_claims",
    "allocations.view_allocationround",
    "allocations.add_allocationround",
    "allocations.run_round",
    "allocations.commit_round",
    "allocations.view_allocationgrant",
    "allocations.view_allocationballot",
    "allocations.view_roundsnapshot",
    "ledger.view_account",
    "ledger.view_transfer",
    "ledger.view_posting",
    "ledger.add_transfer",
    "ledger.view_clearingcycle",
    "ledger.view_netposition",
    "ledger.view_bankaccount",
    "ledger.add_bankaccount",
    "ledger.change_bankaccount",
    "ledger.settle_clearingcycle",
    "ledger.download_ach_file",
    "integrations.import_data",
    "integrations.export_data",
    "integrations.view_dataimport",
    "exchange.view_exchangeround",
    "exchange.add_exchangeround",
    "exchange.run_exchange",
    "exchange.commit_exchange",
    "exchange.view_exchangeitem",
    "exchange.view_exchangecycle",
    "exchange.view_exchangeassignment",
    "exchange.view_exchangesnapshot",
    "oversight.view_outcomes",
]
_OUR_APPS = (
    "service_requests",
    "governance",
    "allocations",
    "ledger",
    "exchange",
    "core",
    "oversight",
)

ROLES: dict[str, list[str] | str] = {
    CIVILIAN: [],
    REVIEWER: _REVIEW,
    SUPERVISOR: _SUPERVISE,
    FINANCE_OFFICER: _FINANCE,
    # Auditors read everything of ours, history included, and change nothing.
    AUDITOR: "view-all",
}


def sync_roles(apps: Any) -> None:
    """Create the role groups and set their permissions exactly (works with migration apps)."""
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for name, wanted in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        if wanted == "view-all":
            perms = list(
                permission_model.objects.filter(content_type__app_label__in=_OUR_APPS).filter(
                    codename__startswith="view_"
                )
            )
        else:
            perms = []
            for dotted in wanted:
                app_label, codename = dotted.split(".")
                # A permission added by a later migration is granted when that one syncs.
                perm = permission_model.objects.filter(
                    content_type__app_label=app_label, codename=codename
                ).first()
                if perm is not None:
                    perms.append(perm)
        group.permissions.set(perms)


def sync_roles_in_migration(apps: Any, schema_editor: Any) -> None:
    """`RunPython` body for role migrations: permissions are normally created after `migrate`,
    but the groups need them now, so create them first, then sync the groups."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    sync_roles(apps)


def is_staff_member(user: Any) -> bool:
    """Whether `user` is bureau staff: the one definition the sign-in rules (second factor,
    session limits) use. Staff are the people who may open the admin and the workflow screens,
    which both open on `is_staff`; superusers count whatever their flag."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.is_staff or user.is_superuser)
