"""The bureau's calendar and its targets: public holidays (the US federal ones seeded from the
`holidays` package, one by one with history; others edited in the admin) and each service's
service-level targets."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import holidays as holiday_tables
from django.db import transaction
from django.utils import timezone

from core.audit import record_history

from ..models import Holiday, ServiceLevelTarget

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def us_federal_holidays(years: range) -> dict[date, str]:
    """The US federal holidays (with their observed days) of `years`, from `holidays`."""
    return dict(holiday_tables.country_holidays("US", years=years).items())


def seed_rows(model: Any, history: Any, years: range) -> int:
    """Add the federal holidays of `years` missing from `model`'s table (a date already there,
    under any name, is kept as the bureau edited it), each with its history row (`history`,
    the historical model). For the data migration, whose models are historical ones."""
    wanted = us_federal_holidays(years)
    present = set(model.objects.filter(date__in=list(wanted)).values_list("date", flat=True))
    missing = [
        model(date=day, name=name[:120])
        for day, name in sorted(wanted.items())
        if day not in present
    ]
    model.objects.bulk_create(missing)
    added = model.objects.filter(date__in=[h.date for h in missing])
    now = timezone.now()
    history.objects.bulk_create(
        history(
            id=holiday.pk,
            date=holiday.date,
            name=holiday.name,
            history_date=now,
            history_type="+",
            history_change_reason="US federal holiday seeded",
        )
        for holiday in added
    )
    return len(missing)


@transaction.atomic
def holidays_seed(*, actor: User, years: range) -> int:
    """Add the US federal holidays of `years` not yet in the calendar, each with a history row
    naming `actor`; returns how many were added. Re-running adds nothing."""
    wanted = us_federal_holidays(years)
    present = set(Holiday.objects.filter(date__in=list(wanted)).values_list("date", flat=True))
    added = 0
    for day, name in sorted(wanted.items()):
        if day in present:
            continue
        holiday = Holiday(date=day, name=name[:120])
        holiday.full_clean()
        record_history(holiday, actor=actor, reason="US federal holiday seeded")
        holiday.save()
        added += 1
    return added


@transaction.atomic
def holiday_save(*, actor: User, holiday: Holiday) -> Holiday:
    """Add a public holiday or change one (as edited in the admin), with history. Figures and
    due times read the calendar as it is now, so a holiday added after the fact counts."""
    holiday.name = holiday.name.strip()
    holiday.full_clean()
    if holiday.pk is not None:
        # Lock the row: two edits of one holiday apply one after the other.
        Holiday.objects.select_for_update().get(pk=holiday.pk)
    record_history(
        holiday, actor=actor, reason="holiday changed" if holiday.pk else "holiday added"
    )
    holiday.save()
    return holiday


@transaction.atomic
def holiday_delete(*, actor: User, holiday_id: int) -> None:
    """Remove a public holiday from the calendar; its history keeps what it was and who
    removed it."""
    holiday = Holiday.objects.select_for_update().filter(pk=holiday_id).first()
    if holiday is None:
        return
    record_history(holiday, actor=actor, reason="holiday removed")
    holiday.delete()


@transaction.atomic
def target_save(*, actor: User, target: ServiceLevelTarget) -> ServiceLevelTarget:
    """Set a service type's first-response and decision targets (working hours), with
    history; due times and figures read them from then on."""
    target.full_clean()
    if target.pk is not None:
        # Lock the row: two edits of one target apply one after the other.
        ServiceLevelTarget.objects.select_for_update().get(pk=target.pk)
    record_history(target, actor=actor, reason="target changed" if target.pk else "target set")
    target.save()
    return target
