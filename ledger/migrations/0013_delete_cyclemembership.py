"""The membership rows are gone: a cycle's range says which transfers it holds (0010-0012)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("ledger", "0012_clearingcycle_range_exclusion")]

    operations = [migrations.DeleteModel(name="CycleMembership")]
