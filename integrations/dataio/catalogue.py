"""Service types: created or updated by code (the natural key), each change under history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import ValidationError

from allocations.models import Fund
from governance.models import Program
from service_requests.models import ServiceType
from service_requests.services import catalogue

from .base import CREATED, UNCHANGED, UPDATED, Kind, Plan, RowCheck, flag

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from .tables import Row

ERR_PROGRAM = "No program has the code {value}."
ERR_FUND = "No fund has the code {value}."
ERR_FUND_PROGRAM = "Fund {fund} belongs to another program than {program}."
ERR_FUND_CURRENCY = "Fund {fund} is in {fund_currency}, the service in {currency}."

_FIELDS = (
    "name",
    "description",
    "name_es",
    "description_es",
    "program_id",
    "fund_id",
    "currency",
    "max_amount_minor",
    "target_days",
    "active",
)
_COLUMN_OF = {"program": "program", "fund": "fund", "max_amount_minor": "max_amount_minor"}


class ServiceTypes(Kind):
    name = "service_types"
    label = "Service types"
    key_column = "code"
    required: ClassVar[tuple[str, ...]] = ("code", "name", "program")
    optional: ClassVar[tuple[str, ...]] = (
        "fund",
        "currency",
        "max_amount_minor",
        "target_days",
        "active",
        "description",
        "name_es",
        "description_es",
    )

    def prepare(self, rows: Sequence[Row]) -> None:
        codes = {r.cells.get("code", "").strip() for r in rows}
        self.existing = {s.code: s for s in ServiceType.objects.filter(code__in=codes)}
        self.programs = {p.code: p for p in Program.objects.all()}
        self.funds = {f.code: f for f in Fund.objects.all()}

    def check(self, check: RowCheck) -> Plan | None:
        code = check.text("code", required=True)
        program_code = check.text("program", required=True)
        program = self.programs.get(program_code)
        if program_code and program is None:
            check.add("program", ERR_PROGRAM.format(value=program_code))
        fund_code = check.text("fund")
        fund = self.funds.get(fund_code) if fund_code else None
        if fund_code and fund is None:
            check.add("fund", ERR_FUND.format(value=fund_code))
        currency = check.currency("currency", default="USD")
        if fund and program and fund.program_id != program.pk:
            check.add("fund", ERR_FUND_PROGRAM.format(fund=fund_code, program=program_code))
        if fund and currency and fund.currency != currency:
            check.add(
                "fund",
                ERR_FUND_CURRENCY.format(
                    fund=fund_code, fund_currency=fund.currency, currency=currency
                ),
            )
        values: dict[str, Any] = {
            "name": check.text("name", required=True),
            "description": check.text("description"),
            "name_es": check.text("name_es"),
            "description_es": check.text("description_es"),
            "program_id": program.pk if program else None,
            "fund_id": fund.pk if fund else None,
            "currency": currency,
            "max_amount_minor": check.integer("max_amount_minor", positive=True),
            "target_days": check.integer("target_days", positive=True) or 30,
            "active": check.boolean("active", default=True),
        }
        if check.problems:
            return None
        existing = self.existing.get(code)
        candidate = ServiceType(code=code, **values)
        if existing is not None:
            candidate.pk = existing.pk
        try:
            candidate.full_clean(exclude=["program", "fund"], validate_unique=False)
        except ValidationError as error:
            check.validation_error(error, columns=_COLUMN_OF)
            return None
        if existing is None:
            outcome = CREATED
        elif all(getattr(existing, f) == values[f] for f in _FIELDS):
            outcome = UNCHANGED
        else:
            outcome = UPDATED
        return Plan(line=check.row.line, key=code, outcome=outcome, values=values)

    def write(self, plan: Plan, *, actor: User, source: str) -> None:
        if plan.outcome == UNCHANGED:
            return
        catalogue.service_type_save(
            actor=actor, code=plan.key, values=plan.values, reason=f"imported from {source}"
        )

    def export(self) -> list[list[str]]:
        return [
            [
                s.code,
                s.name,
                s.program.code,
                s.fund.code if s.fund else "",
                s.currency,
                "" if s.max_amount_minor is None else str(s.max_amount_minor),
                str(s.target_days),
                flag(s.active),
                s.description,
                s.name_es,
                s.description_es,
            ]
            for s in ServiceType.objects.select_related("program", "fund").order_by("code")
        ]
