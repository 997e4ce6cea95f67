"""Build a coherent demo bureau through the real services (so history and ledger are true).

Two programs, four service types (two paid out of funds), funded ledger accounts, one user per
role with a printed password, and about fifty requests spread over every status. Safe to run
twice: a seeded database is left as it is (`--force` seeds more requests).
"""

from __future__ import annotations

import random
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings

from allocations import services as allocations
from core import roles
from core.audit import system_user
from core.services.accounts import account_ensure
from governance import services as governance
from governance.models import DECIDE_PERMISSION, REVIEW_PERMISSION, ApprovalCase, Outcome, Program
from service_requests import services as requests
from service_requests.models import ServiceRequest, ServiceType, Status

DEMO_DOMAIN = "demo.hms.example"

PERSONAS = [
    # username, role, staff, superuser, first, last, password
    ("civilian", roles.CIVILIAN, False, False, "Carmen", "Diaz", "civilian-demo-2026"),
    ("civilian2", roles.CIVILIAN, False, False, "Kofi", "Mensah", "civilian-demo-2026"),
    ("reviewer", roles.REVIEWER, True, False, "Rita", "Okafor", "reviewer-demo-2026"),
    ("supervisor", roles.SUPERVISOR, True, False, "Sam", "Whitfield", "supervisor-demo-2026"),
    ("finance", roles.FINANCE_OFFICER, True, False, "Fiona", "Park", "finance-demo-2026"),
    ("auditor", roles.AUDITOR, True, False, "Audrey", "Lind", "auditor-demo-2026"),
    ("admin", None, True, True, "Ada", "Admin", "admin-demo-2026"),
]

PROGRAMS = [
    ("housing", "Housing Stability", "Keeps households housed: rent help and home safety."),
    ("business", "Small Business Recovery", "Helps neighbourhood businesses reopen and grow."),
]

# code, name, program, fund code or None, max amount (minor), description
SERVICE_TYPES = [
    (
        "rent-help",
        "Emergency rent help",
        "housing",
        "rent-relief",
        500_000,
        "One-time help with up to two months of rent when you are behind.",
    ),
    (
        "home-inspection",
        "Home safety inspection",
        "housing",
        None,
        None,
        "An inspector checks heating, wiring and smoke alarms in a rented home.",
    ),
    (
        "microgrant",
        "Small business micro-grant",
        "business",
        "microgrants",
        1_000_000,
        "A grant of up to 10,000.00 to reopen or adapt a small business.",
    ),
    (
        "permit-guidance",
        "Permit guidance",
        "business",
        None,
        None,
        "A staff member walks you through the permits your business needs.",
    ),
]

FUNDS = [
    ("rent-relief", "housing", "Rent relief fund", 10_000_000),
    # Smaller than one full micro-grant: the demo's micro-grant requests wait for funds.
    ("microgrants", "business", "Micro-grant fund", 800_000),
]

DESCRIPTIONS = [
    "My hours were cut and I am two months behind on rent. My landlord has sent a notice.",
    "The heating in our apartment has not worked since October and the landlord does not answer.",
    "We need help reopening our bakery after the flood damaged the ovens.",
    "I want to open a food truck and do not know which permits I need.",
    "Medical bills this spring left me behind on rent; I am back at work now.",
    "Our corner shop needs a new refrigeration unit to keep selling fresh produce.",
    "The smoke alarms in our building do not work and there is exposed wiring in the hall.",
    "I run a barber shop and want to add a second chair; what permits apply?",
]

# How many requests end in each status (about fifty in all).
PLAN = {
    Status.SUBMITTED: 8,
    Status.IN_REVIEW: 7,
    Status.INFO_REQUESTED: 5,
    Status.PENDING_APPROVAL: 8,
    Status.APPROVED: 4,
    Status.FUNDED: 6,
    Status.FULFILLED: 6,
    Status.AWAITING_FUNDS: 3,
    Status.REJECTED: 4,
}


class Command(BaseCommand):
    help = "Seed a demo bureau: programs, service types, funds, one user per role, ~50 requests."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--force", action="store_true", help="Seed requests again.")
        parser.add_argument("--seed", type=int, default=2026, help="Random seed.")

    def handle(self, *args: Any, **options: Any) -> None:
        rng = random.Random(options["seed"])
        system = system_user()
        users = self._users(system)
        programs, types = self._bureau(system, users)
        if ServiceRequest.objects.exists() and not options["force"]:
            self.stdout.write("Requests already seeded; leaving them (use --force for more).")
        else:
            # The civilians' emails of a seeded history are kept in memory, not printed.
            with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
                self._requests(rng, users, types)
        self._print_logins()
        self.stdout.write(f"Programs: {', '.join(p.name for p in programs.values())}")
        from ledger.services import demo_cycle_settle

        cycle = demo_cycle_settle(actor=system)
        if cycle is not None:
            self.stdout.write(f"Settled clearing cycle {cycle.pk} with its ACH file.")
        from exchange.services.demo import demo_rounds_seed

        for round_ in demo_rounds_seed(
            actor=users["finance"],
            housing=programs["housing"],
            business=programs["business"],
            domain=f"exchange.{DEMO_DOMAIN}",
        ):
            self.stdout.write(f"Exchange round {round_.pk}: /exchange/{round_.pk}/")

    # -- people -------------------------------------------------------------------------------
    def _users(self, system: Any) -> dict[str, Any]:
        users: dict[str, Any] = {}
        for username, role, staff, superuser, first, last, password in PERSONAS:
            users[username], _ = account_ensure(
                actor=system,
                username=username,
                email=f"{username}@{DEMO_DOMAIN}",
                first_name=first,
                last_name=last,
                is_staff=staff,
                is_superuser=superuser,
                password=password,
                groups=[role] if role else [],
            )
        return users

    # -- programs, funds, service types ---------------------------------------------------------
    @transaction.atomic
    def _bureau(
        self, system: Any, users: dict[str, Any]
    ) -> tuple[dict[str, Program], list[ServiceType]]:
        programs: dict[str, Program] = {}
        for code, name, description in PROGRAMS:
            program = Program.objects.filter(code=code).first() or governance.program_save(
                actor=system,
                program=Program(code=code, name=name, description=description),
                reason="demo seed",
            )
            programs[code] = program
        for program in programs.values():
            # One supervisor decides, within three days (else escalated to the administrators).
            if not program.policies.filter(code=f"{program.code}-default").exists():
                governance.policy_create(
                    actor=system,
                    program=program,
                    code=f"{program.code}-default",
                    name=f"{program.name}: one supervisor",
                    steps=[
                        governance.StepSpec(name="Supervisor", sla_hours=72, reason_on_approve=True)
                    ],
                    activate=True,
                )
            for who, permission in (
                ("reviewer", REVIEW_PERMISSION),
                ("supervisor", REVIEW_PERMISSION),
                ("supervisor", DECIDE_PERMISSION),
            ):
                governance.program_permission_grant(
                    actor=system, program=program, user=users[who], permission=permission
                )
        funds = {}
        for code, program_code, name, amount in FUNDS:
            fund = allocations.fund_open(
                actor=system, program=programs[program_code], code=code, name=name
            )
            allocations.fund_credit(
                actor=system,
                fund=fund,
                amount_minor=amount,
                idempotency_key=f"demo-appropriation-{code}",
                memo="FY2026 appropriation",
            )
            funds[code] = fund
        types = []
        for code, name, program_code, fund_code, maximum, description in SERVICE_TYPES:
            service_type = ServiceType.objects.filter(code=code).first()
            if service_type is None:
                service_type = requests.service_type_save(
                    actor=system,
                    code=code,
                    values={
                        "name": name,
                        "program": programs[program_code],
                        "fund": funds.get(fund_code) if fund_code else None,
                        "max_amount_minor": maximum,
                        "description": description,
                    },
                    reason="demo seed",
                )
            types.append(service_type)
        return programs, types

    # -- requests -------------------------------------------------------------------------------
    def _requests(
        self, rng: random.Random, users: dict[str, Any], types: list[ServiceType]
    ) -> None:
        reviewer, supervisor = users["reviewer"], users["supervisor"]
        civilians = [users["civilian"], users["civilian2"]]
        plain = [t for t in types if not t.is_funding]
        count = 0
        by_code = {t.code: t for t in types}
        for status, how_many in PLAN.items():
            for _ in range(how_many):
                if status == Status.AWAITING_FUNDS:
                    # More than the micro-grant fund holds: approved, then waiting for funds.
                    service_type = by_code["microgrant"]
                elif status == Status.FUNDED:
                    service_type = by_code["rent-help"]
                elif status == Status.FULFILLED:
                    service_type = by_code["rent-help"] if rng.random() < 0.7 else rng.choice(plain)
                elif status == Status.APPROVED:
                    service_type = rng.choice(plain)
                else:
                    service_type = rng.choice(types)
                civilian = rng.choice(civilians)
                amount = None
                if service_type.is_funding:
                    ceiling = service_type.max_amount_minor or 100_000
                    amount = rng.randrange(200, ceiling // 100) * 100
                if status == Status.AWAITING_FUNDS:
                    amount = service_type.max_amount_minor
                request, _ = requests.request_submit(
                    actor=civilian,
                    service_type=service_type,
                    description=rng.choice(DESCRIPTIONS),
                    contact_name=civilian.get_full_name(),
                    contact_email=civilian.email,
                    contact_phone=f"555-01{rng.randrange(10, 99)}",
                    amount_minor=amount,
                )
                self._advance(
                    request, status, reviewer=reviewer, supervisor=supervisor, users=users
                )
                count += 1
        self.stdout.write(f"Seeded {count} requests.")

    def _advance(
        self,
        request: ServiceRequest,
        target: str,
        *,
        reviewer: Any,
        supervisor: Any,
        users: dict[str, Any],
    ) -> None:
        """Walk a request through the services to `target`."""
        if target == Status.SUBMITTED:
            return
        requests.request_start_review(actor=reviewer, request_id=request.pk)
        if target == Status.IN_REVIEW:
            return
        if target == Status.INFO_REQUESTED:
            requests.request_ask_info(
                actor=reviewer,
                request_id=request.pk,
                message="Please send a copy of your lease and your landlord's notice.",
            )
            return
        requests.request_recommend(actor=reviewer, request_id=request.pk, note="Eligible.")
        if target == Status.PENDING_APPROVAL:
            return
        case = ApprovalCase.objects.get(service_request=request)
        if target == Status.REJECTED:
            governance.case_decide(
                actor=supervisor,
                case_id=case.pk,
                outcome=Outcome.REJECT,
                reason="The household income is above the program's limit.",
            )
            return
        governance.case_decide(
            actor=supervisor,
            case_id=case.pk,
            outcome=Outcome.APPROVE,
            reason="Meets the program's criteria.",
        )
        if target == Status.FULFILLED:
            requests.request_fulfil(actor=reviewer, request_id=request.pk)

    def _print_logins(self) -> None:
        self.stdout.write("")
        self.stdout.write("Demo logins (email / password):")
        for username, role, _staff, _superuser, _first, _last, password in PERSONAS:
            label, email = role or "administrator", f"{username}@{DEMO_DOMAIN}"
            self.stdout.write(f"  {label:<16} {email:<32} {password}")
        self.stdout.write("")
        self.stdout.write(
            "Staff sign in with a second factor: on first sign-in they add an authenticator "
            "app (scan the code shown) and keep the recovery codes."
        )
        self.stdout.write("Public pages: /   Staff admin: /admin/   Supervisors: /workflow/")
