"""Clearing cycles record the range of the transfer sequence they claim when they close."""

from django.db import migrations, models


def _sequence_field(verbose_name: str) -> models.BigIntegerField:
    return models.BigIntegerField(
        blank=True,
        editable=False,
        help_text="Sequence number.",
        null=True,
        verbose_name=verbose_name,
    )


class Migration(migrations.Migration):
    dependencies = [("ledger", "0009_transfer_checks")]

    operations = [
        migrations.AddField(
            model_name="clearingcycle",
            name="first_sequence",
            field=_sequence_field("first transfer"),
        ),
        migrations.AddField(
            model_name="clearingcycle",
            name="last_sequence",
            field=_sequence_field("last transfer"),
        ),
        migrations.AddField(
            model_name="historicalclearingcycle",
            name="first_sequence",
            field=_sequence_field("first transfer"),
        ),
        migrations.AddField(
            model_name="historicalclearingcycle",
            name="last_sequence",
            field=_sequence_field("last transfer"),
        ),
        migrations.AddConstraint(
            model_name="clearingcycle",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("first_sequence__isnull", True), ("last_sequence__isnull", True)),
                    models.Q(
                        ("first_sequence__gte", 1),
                        ("last_sequence__gte", models.F("first_sequence")),
                    ),
                    _connector="OR",
                ),
                name="ledger_clearingcycle_range_ordered",
            ),
        ),
        migrations.AddConstraint(
            model_name="clearingcycle",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "open"), _negated=True),
                    ("first_sequence__isnull", True),
                    _connector="OR",
                ),
                name="ledger_clearingcycle_open_claims_nothing",
            ),
        ),
    ]
