"""Give the cycles closed before 0009 a range, from their membership rows (and back).

Forward: per currency, the closed cycles in the order of their last member's sequence number
each claim the range from just after the previous one's to their last member. The ranges are
then contiguous and disjoint, and every cycle closed from now on starts after every transfer an
earlier cycle netted, so none is netted twice. The stored net positions of these cycles stay as
they were computed; their range may also span transfers of an interleaved window that were not
theirs (windows used to overlap), which is why it is only a bound for them.

Backward: membership rows again for the transfers each range holds, by the clearing rule.
"""

from django.db import migrations
from django.db.models import Max, Q

PARTICIPANT_KINDS = ("civilian", "vendor", "agency")
SETTLEMENT = {"owner_kind": "bureau", "owner_ref": "ach-settlement"}


def ranges_from_memberships(apps, schema_editor):
    ClearingCycle = apps.get_model("ledger", "ClearingCycle")
    last_member = (
        ClearingCycle.objects.exclude(status="open")
        .annotate(last_member=Max("memberships__transfer__sequence"))
        .filter(last_member__isnull=False)
        .order_by("currency", "last_member", "pk")
    )
    claimed: dict[str, int] = {}
    for cycle in last_member:
        first = claimed.get(cycle.currency, 0) + 1
        if cycle.last_member < first:  # pragma: no cover - member sequences are distinct
            continue
        cycle.first_sequence, cycle.last_sequence = first, cycle.last_member
        cycle.save(update_fields=["first_sequence", "last_sequence"])
        claimed[cycle.currency] = cycle.last_member


def memberships_from_ranges(apps, schema_editor):
    ClearingCycle = apps.get_model("ledger", "ClearingCycle")
    CycleMembership = apps.get_model("ledger", "CycleMembership")
    Transfer = apps.get_model("ledger", "Transfer")
    for cycle in ClearingCycle.objects.filter(first_sequence__isnull=False):
        transfers = (
            Transfer.objects.filter(
                sequence__range=(cycle.first_sequence, cycle.last_sequence),
                kind__in=("posted", "post_pending"),
                currency=cycle.currency,
            )
            .filter(
                Q(debit_account__owner_kind__in=PARTICIPANT_KINDS)
                | Q(credit_account__owner_kind__in=PARTICIPANT_KINDS)
            )
            .exclude(**{f"debit_account__{k}": v for k, v in SETTLEMENT.items()})
            .exclude(**{f"credit_account__{k}": v for k, v in SETTLEMENT.items()})
        )
        CycleMembership.objects.bulk_create(
            [
                CycleMembership(cycle=cycle, transfer_id=pk)
                for pk in transfers.values_list("pk", flat=True)
            ],
            batch_size=2_000,
            ignore_conflicts=True,
        )
        cycle.first_sequence = cycle.last_sequence = None
        cycle.save(update_fields=["first_sequence", "last_sequence"])


class Migration(migrations.Migration):
    dependencies = [("ledger", "0010_clearingcycle_range")]

    operations = [migrations.RunPython(ranges_from_memberships, memberships_from_ranges)]
