"""Record every group membership that exists when membership history begins (`present`), so
the authority report can tell them from memberships that began later."""

from typing import Any

from django.conf import settings
from django.db import migrations
from django.utils import timezone


def snapshot(apps: Any, schema_editor: Any) -> None:
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    change = apps.get_model("governance", "GroupMembershipChange")
    now = timezone.now()
    pairs = user_model.groups.through.objects.values_list("group_id", "user_id")
    change.objects.bulk_create(
        change(group_id=group_id, user_id=user_id, action="present", at=now)
        for group_id, user_id in pairs.iterator()
    )


def forget(apps: Any, schema_editor: Any) -> None:
    apps.get_model("governance", "GroupMembershipChange").objects.filter(action="present").delete()


class Migration(migrations.Migration):
    dependencies = [("governance", "0005_group_membership_history")]

    operations = [migrations.RunPython(snapshot, forget)]
