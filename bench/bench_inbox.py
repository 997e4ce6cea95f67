"""Benchmark: the supervisors' workflow inbox over 10,000 open cases in 20 programs.

Run with `uv run python -m bench bench_inbox` (or `make bench`). Needs PostgreSQL at
`BENCH_INBOX_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/hms_bench_inbox`); the
database is created, migrated and seeded on the first run (cases and their steps by SQL) and
reused afterwards.

The world: 20 programs, each under a two-step policy (the program's deciders, then a second
step above 2,500.00). The benchmark supervisor decides 10 programs in their own right and the
other 10 under delegations from those programs' supervisors (ceilings from 1,000.00 to
5,000.00). 10,000 open cases spread over the 20 programs, a tenth of them overdue, 1,000 with
a decision by another supervisor. A second supervisor decides a small program of 5 cases.

It times GET /workflow/ in-process with Django's test client (DEBUG off) on the default page
(overdue first), sorted by amount, filtered by program, filtered by amount, and page 20; counts
the queries of each, and of the small supervisor's inbox; and, as the baseline, runs the page's
main SELECT as raw SQL through psycopg. Targets: median under 100 ms on every scenario, and the
same number of queries for 10,000 cases as for 5. Returns non-zero if a target is missed.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import timedelta
from typing import Any

from bench.common import bench_database, ensure_database, percentile_95, setup_django, timed_ms

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/hms_bench_inbox"
CASES = 10_000
PROGRAMS = 20
RUNS = 30
WARMUP = 5
TARGET_MEDIAN_MS = 100.0
INBOX = "/workflow/"

SEED_SQL = """
INSERT INTO governance_approvalcase (
    program_id, subject_kind, subject_label, scope_key, summary, amount_minor, currency,
    maker_id, recommender_id, policy_id, current_step_id, due_at, blocked_reason, status,
    opened_at, decided_at
)
SELECT
    p.program_id, 'service_request', 'Bench case ' || g, '', 'Seeded case.',
    100 + (g::bigint * 7919) %% 600000, 'USD', %(maker)s, NULL, p.policy_id, NULL,
    now() + ((g %% 100) - 10) * interval '1 hour', '', 'open',
    now() - (g %% 300) * interval '1 minute', NULL
FROM generate_series(1, %(cases)s) AS g
JOIN (
    SELECT u.program_id, u.policy_id, u.idx - 1 AS idx
    FROM unnest(%(programs)s::bigint[], %(policies)s::bigint[]) WITH ORDINALITY
        AS u(program_id, policy_id, idx)
) AS p ON p.idx = g %% %(n_programs)s;

INSERT INTO governance_casestep (
    case_id, step_id, "order", status, required_approvals, approvals, opened_at, due_at,
    warn_at, warned_at, escalated_at, completed_at
)
SELECT c.id, s.id, s."order",
    CASE WHEN s."order" = 1 THEN 'open' ELSE 'pending' END, 1, 0,
    CASE WHEN s."order" = 1 THEN c.opened_at END,
    CASE WHEN s."order" = 1 THEN c.due_at END,
    NULL, NULL, NULL, NULL
FROM governance_approvalcase AS c
JOIN governance_policystep AS s ON s.policy_id = c.policy_id
WHERE c.current_step_id IS NULL AND c.status = 'open';

UPDATE governance_approvalcase AS c SET current_step_id = cs.id
FROM governance_casestep AS cs
WHERE cs.case_id = c.id AND cs."order" = 1 AND c.current_step_id IS NULL;

INSERT INTO governance_decision (
    case_id, case_step_id, decided_by_id, on_behalf_of_id, delegation_id, outcome, reason,
    decided_at
)
SELECT c.id, c.current_step_id, %(other)s, NULL, NULL, 'approve', 'seeded', now()
FROM governance_approvalcase AS c
WHERE c.subject_label LIKE 'Bench case %%' AND c.id %% 10 = 0;
"""


def _world() -> dict[str, Any]:
    """Programs, policies, supervisors and delegations (idempotent)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from guardian.shortcuts import assign_perm

    from core.audit import system_user
    from governance import services as governance
    from governance.models import ApprovalPolicy, Delegation, PolicyStatus, Program

    user_model = get_user_model()
    system = system_user()

    def person(username: str) -> Any:
        user, _ = user_model.objects.get_or_create(
            username=username,
            defaults={"email": f"{username}@example.test", "is_staff": True},
        )
        return user

    sup, small, other, maker = (
        person(n) for n in ("bench-sup", "bench-small", "bench-other", "bench-maker")
    )
    programs, policies = [], []
    for index in range(PROGRAMS + 1):
        code = f"bench-{index:02d}" if index < PROGRAMS else "bench-small"
        program, _ = Program.objects.get_or_create(code=code, defaults={"name": code.title()})
        policy = ApprovalPolicy.objects.filter(code=code, status=PolicyStatus.ACTIVE).first()
        if policy is None:
            policy = governance.policy_create(
                actor=system,
                program=program,
                code=code,
                name=f"{code} policy",
                steps=[
                    governance.StepSpec(name="Supervisor", sla_hours=72),
                    governance.StepSpec(name="Director", threshold_minor=250_000),
                ],
                activate=True,
            )
        assign_perm("governance.decide_program", other, program)
        if index < PROGRAMS // 2:
            assign_perm("governance.decide_program", sup, program)
        elif index < PROGRAMS:
            boss = person(f"bench-boss-{index:02d}")
            assign_perm("governance.decide_program", boss, program)
            if not Delegation.objects.filter(delegator=boss, revoked_at__isnull=True).exists():
                now = timezone.now()
                governance.delegation_create(
                    actor=boss,
                    delegate=sup,
                    program=program,
                    ceiling_minor=100_000 * (1 + index % 5),
                    starts_at=now - timedelta(hours=1),
                    ends_at=now + timedelta(days=80),
                    reason="Benchmark",
                )
        else:
            assign_perm("governance.decide_program", small, program)
        programs.append(program)
        policies.append(policy)
    return {
        "sup": sup,
        "small": small,
        "other": other,
        "maker": maker,
        "programs": programs,
        "policies": policies,
    }


def _seed(world: dict[str, Any]) -> None:
    from django.db import connection, transaction

    from governance import services as governance
    from governance.models import ApprovalCase

    present = ApprovalCase.objects.filter(subject_label__startswith="Bench case").count()
    if present >= CASES:
        print(f"{present:,} cases present: not reseeding", flush=True)
    else:
        if present:
            raise SystemExit("A partial seed is present: drop the benchmark database and rerun.")
        print(f"seeding {CASES:,} cases by SQL ...", flush=True)
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                SEED_SQL,
                {
                    "maker": world["maker"].pk,
                    "other": world["other"].pk,
                    "programs": [p.pk for p in world["programs"][:PROGRAMS]],
                    "policies": [p.pk for p in world["policies"][:PROGRAMS]],
                    "n_programs": PROGRAMS,
                    "cases": CASES,
                },
            )
        print(f"seeded in {time.perf_counter() - started:.1f} s", flush=True)
    small_program = world["programs"][PROGRAMS]
    for _ in range(5 - ApprovalCase.objects.filter(program=small_program).count()):
        governance.case_open(
            actor=world["maker"],
            program=small_program,
            subject_kind="service_request",
            subject_label="Small case",
            maker=world["maker"],
            amount_minor=10_000,
            currency="USD",
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _main_select(queries: list[dict[str, str]]) -> str:
    for query in queries:
        sql = query["sql"]
        if sql.startswith('SELECT "governance_approvalcase"."id" AS "pk"') and "LIMIT" in sql:
            return sql
    raise RuntimeError("no page query captured")


def main() -> int:
    """Seed if needed, time the inbox, print the figures; non-zero if a target is missed."""
    url = bench_database("BENCH_INBOX_DATABASE_URL", DEFAULT_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        print("bench_inbox needs PostgreSQL: set BENCH_INBOX_DATABASE_URL to a postgres:// URL")
        return 1
    ensure_database(url)
    setup_django()

    import psycopg
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tests.builders import mark_signed_in_with_mfa

    call_command("migrate", verbosity=0, interactive=False)
    world = _world()
    _seed(world)

    client = Client()
    client.force_login(world["sup"])
    mark_signed_in_with_mfa(client, world["sup"])  # staff pages need the second factor
    delegated_program = world["programs"][PROGRAMS - 1].pk
    scenarios = [
        ("overdue first", ""),
        ("by amount", "?sort=-amount"),
        ("program filter", f"?program={delegated_program}"),
        ("amount filter", "?amount_min=100&amount_max=2000"),
        ("page 20", "?page=20"),
    ]
    failed = False
    rows = []
    counts: dict[str, int] = {}
    for label, query in scenarios:

        def get(path: str = INBOX + query, who: Client = client) -> None:
            response = who.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"{path} answered {response.status_code}")

        timings = timed_ms(get, runs=RUNS, warmup=WARMUP)
        with CaptureQueriesContext(connection) as captured:
            get()
        counts[label] = len(captured)
        sql = _main_select(captured.captured_queries)
        with psycopg.connect(url) as conn:
            raw = timed_ms(
                lambda sql=sql, conn=conn: conn.execute(sql).fetchall(), runs=RUNS, warmup=WARMUP
            )
        median = statistics.median(timings)
        rows.append((label, median, percentile_95(timings), statistics.median(raw)))
        if median >= TARGET_MEDIAN_MS:
            failed = True

    small = Client()
    small.force_login(world["small"])
    mark_signed_in_with_mfa(small, world["small"])
    small.get(INBOX)
    with CaptureQueriesContext(connection) as captured:
        small.get(INBOX)
    small_count = len(captured)
    with CaptureQueriesContext(connection) as captured:
        client.get(INBOX)
    total = client.get(INBOX).content.decode().split("<title>")[1].split("<")[0]
    if len(set(counts.values())) != 1 or small_count != counts["overdue first"]:
        failed = True

    print(
        f"\nworkflow inbox, {CASES:,} open cases in {PROGRAMS} programs "
        f"(10 own, 10 delegated), {RUNS} runs after {WARMUP} warm-up runs"
    )
    print(f"page title: {total.strip()}")
    print(f"{'scenario':<16} {'median ms':>10} {'p95 ms':>8} {'raw SQL ms':>11} {'ratio':>6}")
    for label, median, p95, raw_median in rows:
        flag = "  <-- over target" if median >= TARGET_MEDIAN_MS else ""
        ratio = median / raw_median if raw_median else 0.0
        print(f"{label:<16} {median:>10.1f} {p95:>8.1f} {raw_median:>11.2f} {ratio:>5.0f}x{flag}")
    print(
        "queries: "
        + ", ".join(f"{label} = {n}" for label, n in counts.items())
        + f"; a supervisor with 5 cases = {small_count}"
    )
    print(
        f"targets: median < {TARGET_MEDIAN_MS:.0f} ms and query count independent of the case "
        "count: " + ("MISSED" if failed else "met")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
