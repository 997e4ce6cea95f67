"""The US federal holidays (with their observed days) from 2020 to 2031, from the `holidays`
package; `manage.py seed_holidays` adds later years. Reversing removes only the rows this
migration would add, and only where they kept their seeded name."""

from django.db import migrations

from oversight.services.calendar import seed_rows, us_federal_holidays

YEARS = range(2020, 2032)


def seed(apps, schema_editor):
    seed_rows(
        apps.get_model("oversight", "Holiday"),
        apps.get_model("oversight", "HistoricalHoliday"),
        YEARS,
    )


def unseed(apps, schema_editor):
    holiday = apps.get_model("oversight", "Holiday")
    history = apps.get_model("oversight", "HistoricalHoliday")
    for day, name in us_federal_holidays(YEARS).items():
        history.objects.filter(
            date=day, name=name[:120], history_change_reason="US federal holiday seeded"
        ).delete()
        holiday.objects.filter(date=day, name=name[:120]).delete()


class Migration(migrations.Migration):
    dependencies = [("oversight", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
