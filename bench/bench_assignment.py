"""Benchmark: one assignment decision with 200 reviewers carrying 100,000 open requests.

Run with `uv run python -m bench bench_assignment`. Needs PostgreSQL at
`BENCH_ASSIGNMENT_DATABASE_URL` (default
`postgres://postgres@127.0.0.1:5432/hms_bench_assignment`); the database is created, migrated
and seeded on the first run (requests by SQL) and reused afterwards.

The world: one program with a least-loaded service, 200 staff reviewers holding its review
permission (a tenth of them away today, each with a cap of 1,000), one civilian who flagged a
conflict with five of them, and 100,000 requests in review spread unevenly over the reviewers
(the kept loads recounted from them).

It times the decision as `assign_automatically` makes it, inside a transaction that is rolled
back: the advisory lock, the candidates (one query) and the rule's choice; then the whole
assignment (the decision plus the request's save, its history row, the load moved and the
timeline event). The baseline is the same decision with the loads counted from the requests
table (`GROUP BY assignee` over the open requests), as a design without kept loads would.
Target: the decision's median under 5 ms. Returns non-zero if it is missed.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from bench.common import migrated_postgres, percentile_95, timed_ms

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/hms_bench_assignment"
REVIEWERS = 200
OPEN_REQUESTS = 100_000
RUNS = 200
WARMUP = 20
TARGET_MEDIAN_MS = 5.0

SPREAD_SQL = """
UPDATE service_requests_servicerequest AS r
SET status = 'in_review',
    assignee_id = (%(reviewers)s::bigint[])[1 + floor(%(n)s * power(random(), 1.5))::int]
WHERE r.service_type_id = %(type)s
"""


def _world() -> dict[str, Any]:
    """The program, its service and rule, the reviewers, absences and the civilian."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from guardian.shortcuts import assign_perm

    from governance.models import Program
    from service_requests.models import (
        Absence,
        AssignmentRule,
        ConflictFlag,
        ReviewerProfile,
        ServiceType,
    )

    users = get_user_model().objects
    program, _ = Program.objects.get_or_create(code="bench-assign", defaults={"name": "Assign"})
    service_type, _ = ServiceType.objects.get_or_create(
        code="bench-assign", defaults={"name": "Bench assignment", "program": program}
    )
    AssignmentRule.objects.get_or_create(service_type=service_type)
    civilian, _ = users.get_or_create(
        username="bench-assign-civilian", defaults={"email": "civ@example.test"}
    )
    reviewers = []
    today = timezone.localdate()
    for index in range(REVIEWERS):
        user, created = users.get_or_create(
            username=f"bench-assign-{index:03d}",
            defaults={"email": f"r{index}@example.test", "is_staff": True},
        )
        if created:
            assign_perm("governance.review_program", user, program)
            ReviewerProfile.objects.create(user=user, cap=1000, languages="en,es")
            if index % 10 == 0:
                Absence.objects.create(user=user, starts_on=today, ends_on=today, entered_by=user)
            if index % 40 == 1:
                ConflictFlag.objects.create(reviewer=user, person=civilian, reason="bench")
        reviewers.append(user)
    return {"service_type": service_type, "civilian": civilian, "reviewers": reviewers}


def _seed(world: dict[str, Any]) -> None:
    from django.db import connection, transaction

    from bench.seed import seed_requests
    from service_requests import services
    from service_requests.models import ServiceRequest

    service_type = world["service_type"]
    present = ServiceRequest.objects.filter(service_type=service_type).count()
    if present >= OPEN_REQUESTS:
        print(f"{present:,} requests present: not reseeding", flush=True)
        return
    print(f"seeding {OPEN_REQUESTS:,} open requests by SQL ...", flush=True)
    started = time.perf_counter()
    reviewer_ids = [r.pk for r in world["reviewers"]]
    seed_requests(
        rows=OPEN_REQUESTS,
        type_ids=[service_type.pk],
        requester_ids=[world["civilian"].pk],
        assignee_id=reviewer_ids[0],
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.17)")
        cursor.execute(
            SPREAD_SQL, {"reviewers": reviewer_ids, "n": len(reviewer_ids), "type": service_type.pk}
        )
    services.loads_recount()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"seeded in {time.perf_counter() - started:.1f} s", flush=True)


class _Rollback(Exception):
    """Raised to roll a timed transaction back."""


def _rolled_back(run: Any) -> Any:
    from django.db import transaction

    def call() -> None:
        try:
            with transaction.atomic():
                run()
                raise _Rollback
        except _Rollback:
            pass

    return call


def main() -> int:
    """Seed if needed, time the decision, print the figures; non-zero if the target is missed."""
    if not migrated_postgres("BENCH_ASSIGNMENT_DATABASE_URL", DEFAULT_URL, "bench_assignment"):
        return 1

    from django.db.models import Count, Value
    from django.db.models.functions import Coalesce

    from core.locks import advisory_xact_lock
    from service_requests.models import REVIEW_STATUSES, AssignmentRule, ServiceRequest
    from service_requests.services import assignment

    world = _world()
    _seed(world)
    service_type = world["service_type"]
    rule = AssignmentRule.objects.get(service_type=service_type)
    request = ServiceRequest.objects.filter(service_type=service_type).order_by("pk").first()
    assert request is not None
    request.language = "en"

    def decision() -> None:
        advisory_xact_lock(assignment.ASSIGNMENT_LOCK)
        choice = assignment.choose(request, rule, assignment.candidates(request))
        assert choice.user_id is not None

    def counted_decision() -> None:
        advisory_xact_lock(assignment.ASSIGNMENT_LOCK)
        found = assignment.candidates(request)
        counts = dict(
            ServiceRequest.objects.filter(
                status__in=REVIEW_STATUSES, assignee_id__in=[c.user_id for c in found]
            )
            .values_list("assignee_id")
            .annotate(n=Coalesce(Count("pk"), Value(0)))
        )
        recounted = [
            assignment.Candidate(
                c.user_id,
                c.username,
                c.cap,
                counts.get(c.user_id, 0),
                counts.get(c.user_id, 0),
                c.languages,
            )
            for c in found
        ]
        assert assignment.choose(request, rule, recounted).user_id is not None

    def whole() -> None:
        fresh = ServiceRequest.objects.select_for_update().get(pk=request.pk)
        fresh.assignee = None
        assignment.assign_automatically(fresh)

    found = assignment.candidates(request)
    choice = assignment.choose(request, rule, found)
    print(
        f"{ServiceRequest.objects.filter(status__in=REVIEW_STATUSES).count():,} open requests, "
        f"{len(world['reviewers'])} reviewers, {len(found)} candidates; {choice.reason}"
    )
    timings = timed_ms(_rolled_back(decision), runs=RUNS, warmup=WARMUP)
    full = timed_ms(_rolled_back(whole), runs=RUNS, warmup=WARMUP)
    baseline = timed_ms(_rolled_back(counted_decision), runs=RUNS // 4, warmup=WARMUP // 4)
    median = statistics.median(timings)
    base = statistics.median(baseline)
    print(f"{'':34}{'median ms':>10}{'p95 ms':>10}")
    print(f"{'decision (kept loads)':34}{median:10.2f}{percentile_95(timings):10.2f}")
    print(
        f"{'whole assignment (decision + save)':34}{statistics.median(full):10.2f}"
        f"{percentile_95(full):10.2f}"
    )
    print(f"{'baseline: loads counted per call':34}{base:10.2f}{percentile_95(baseline):10.2f}")
    print(f"decision / baseline: {median / base:.3f}")
    if median >= TARGET_MEDIAN_MS:
        print(f"MISSED: the decision's median {median:.2f} ms is not under {TARGET_MEDIAN_MS} ms")
        return 1
    print(f"target met: median under {TARGET_MEDIAN_MS} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
