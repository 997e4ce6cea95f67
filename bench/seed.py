"""Seeding the benchmark databases by SQL: the small world the request benchmarks share, and
up to millions of service requests in one INSERT … SELECT.

`seed_requests` is the one place that writes request rows by SQL. It names the columns whose
values shape the benchmarks (service type, requester, status, dates) and fills every other
NOT NULL column from the model's own default, so a column added to the model later does not
break the seeding of a fresh database.
"""

from __future__ import annotations

from typing import Any

SEED_COLUMNS = (
    "tracking_number",
    "service_type_id",
    "requester_id",
    "contact_name",
    "contact_email",
    "contact_phone",
    "description",
    "amount_minor",
    "currency",
    "status",
    "assignee_id",
    "submission_token",
    "submitted_at",
    "updated_at",
)

# One row per number g in [first, last]: the service type and requester cycle through the given
# lists (repeat an id to weight it), the status is drawn at random with fixed odds (from a fixed
# seed, so two fresh databases hold the same rows), the submission dates spread over two years.
SEED_SELECT = """
SELECT
    'HMS-' || to_char(s.ts, 'YYYY') || '-' || lpad(s.g::text, 7, '0'),
    s.type_id,
    (%(requesters)s::bigint[])[1 + s.g %% cardinality(%(requesters)s::bigint[])],
    'Person ' || s.g,
    'person' || s.g || '@example.test',
    '',
    'Seeded request.',
    CASE WHEN s.type_id = ANY(%(funded)s::bigint[])
        THEN 10000 + (s.g::bigint * 7919) %% 490000 END,
    'USD',
    s.status,
    CASE WHEN s.status <> 'submitted' THEN %(assignee)s::bigint END,
    gen_random_uuid(),
    s.ts,
    s.ts{extra}
FROM (
    SELECT
        g,
        (%(types)s::bigint[])[1 + g %% cardinality(%(types)s::bigint[])] AS type_id,
        now() - interval '730 days' * (1 - g::double precision / %(last)s)
            - interval '1 second' * (g %% 3600) AS ts,
        CASE
            WHEN r < 0.55 THEN 'fulfilled'
            WHEN r < 0.70 THEN 'rejected'
            WHEN r < 0.78 THEN 'in_review'
            WHEN r < 0.85 THEN 'submitted'
            WHEN r < 0.89 THEN 'info_requested'
            WHEN r < 0.93 THEN 'pending_approval'
            WHEN r < 0.95 THEN 'approved'
            WHEN r < 0.97 THEN 'awaiting_funds'
            ELSE 'funded'
        END AS status
    FROM (
        SELECT g, random() AS r FROM generate_series(%(first)s, %(last)s) AS g
    ) AS numbered
) AS s
"""


def world() -> dict[str, Any]:
    """Two programs, three service types (one funded), a reviewer of one program, a superuser
    and five civilians (idempotent)."""
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from guardian.shortcuts import assign_perm

    from allocations import services as allocations
    from allocations.models import Fund
    from core import roles
    from core.audit import system_user
    from governance.models import Program
    from service_requests.models import ServiceType

    user_model = get_user_model()
    system = system_user()
    housing, _ = Program.objects.get_or_create(code="housing", defaults={"name": "Housing"})
    business, _ = Program.objects.get_or_create(code="business", defaults={"name": "Business"})
    fund = Fund.objects.filter(code="bench-rent").first() or allocations.fund_open(
        actor=system, program=housing, code="bench-rent", name="Bench rent relief"
    )
    rent, _ = ServiceType.objects.get_or_create(
        code="bench-rent-help",
        defaults={"name": "Rent help", "program": housing, "fund": fund},
    )
    inspection, _ = ServiceType.objects.get_or_create(
        code="bench-inspection", defaults={"name": "Inspection", "program": housing}
    )
    permit, _ = ServiceType.objects.get_or_create(
        code="bench-permit", defaults={"name": "Permit help", "program": business}
    )

    def person(username: str, **flags: bool) -> Any:
        user, created = user_model.objects.get_or_create(
            username=username,
            defaults={"email": f"{username}@example.test", **flags},
        )
        if created:
            EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        return user

    superuser = person("bench-admin", is_staff=True, is_superuser=True)
    reviewer = person("bench-reviewer", is_staff=True)
    reviewer.groups.add(Group.objects.get(name=roles.REVIEWER))
    assign_perm("governance.review_program", reviewer, housing)
    civilians = [person(f"bench-civilian-{i}") for i in range(5)]
    return {
        "superuser": superuser,
        "reviewer": reviewer,
        "civilians": civilians,
        "rent": rent,
        "inspection": inspection,
        "permit": permit,
    }


def world_requests(world: dict[str, Any], *, rows: int) -> int:
    """`seed_requests` over `world`: half rent help (with an amount), three in ten inspections,
    two in ten permits, spread over the five civilians, assigned to the reviewer once
    triaged."""
    rent, inspection, permit = (world[k].pk for k in ("rent", "inspection", "permit"))
    return seed_requests(
        rows=rows,
        type_ids=[rent] * 5 + [inspection] * 3 + [permit] * 2,
        funded_type_ids=[rent],
        requester_ids=[c.pk for c in world["civilians"]],
        assignee_id=world["reviewer"].pk,
    )


def seed_requests(
    *,
    rows: int,
    type_ids: list[int],
    requester_ids: list[int],
    assignee_id: int,
    funded_type_ids: list[int] | None = None,
) -> int:
    """Insert requests by SQL until the table holds `rows` (see `SEED_SELECT`), then ANALYZE.
    Requests of `funded_type_ids` carry an amount; every request past `submitted` is assigned
    to `assignee_id`. Returns how many were inserted."""
    from django.db import connection, transaction

    from service_requests.models import ServiceRequest

    present = ServiceRequest.objects.count()
    if present >= rows:
        return 0
    extra = [
        field
        for field in ServiceRequest._meta.concrete_fields
        if field.column not in SEED_COLUMNS and not field.null and not field.primary_key
    ]
    params: dict[str, Any] = {
        "types": type_ids,
        "funded": funded_type_ids or [],
        "requesters": requester_ids,
        "assignee": assignee_id,
        "first": present + 1,
        "last": rows,
    }
    for n, field in enumerate(extra):
        if field.unique or not (field.has_default() or field.empty_strings_allowed):
            raise RuntimeError(
                f"{ServiceRequest.__name__}.{field.name} needs a value per row: "
                "add it to SEED_COLUMNS and SEED_SELECT in bench/seed.py"
            )
        params[f"extra_{n}"] = field.get_db_prep_save(field.get_default(), connection)
    columns = ", ".join([*SEED_COLUMNS, *(field.column for field in extra)])
    select = SEED_SELECT.format(extra="".join(f", %(extra_{n})s" for n in range(len(extra))))
    table = ServiceRequest._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        # A fixed seed for random(): the statuses of a fresh database are always the same.
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(f"INSERT INTO {table} ({columns}) {select}", params)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return rows - present
