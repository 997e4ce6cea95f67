"""Benchmark: allocation rules and committing a large round into the ledger.

Run with `uv run python -m bench bench_allocations` (or `make bench`). Figures (best of 3 unless
said otherwise):

1. max-min fair and pro rata on 1,000,000 claims (random demands 100.00-5,000.00, budget 60%
   of demand, tie-break by submission time): target under 1 s each. Baseline in the same run:
   the plain-Python reference implementation (`allocations.rules.reference`, exact fractions)
   and the numpy version on the same first 20,000 claims (the reference takes about a minute
   on 100,000), both checked to give identical grants.
2. the method of equal shares with 10,000 voters and 200 projects (Add1 completion, one unit
   a step): target under 5 s. Baseline in the same run: one count in plain exact arithmetic
   (`count_exact`) against one certified count (`count_float`) at the same share.
3. committing a round of 100,000 grants (`allocations.services.round_commit`: one pending ledger
   transfer per grant through the batch path, claims and grants updated, history written):
   target under 20 s. Baseline in the same run: the ledger's batch path alone
   (`ledger.services.transfers_create`) for the same 100,000 transfers, timed in turn with the
   commit (baseline, commit, baseline, commit) so both see the same load. Each measured run
   commits for real (deferred checks included) on a fresh copy of the seeded database
   (`CREATE DATABASE ... TEMPLATE`), so every run commits the same round. Needs
   PostgreSQL: `BENCH_ALLOCATIONS_DATABASE_URL` (default
   postgres://postgres@127.0.0.1:5432/hms_bench_allocations), created, migrated and seeded on
   the first run (about two minutes), reused afterwards; skipped when unreachable.
   `BENCH_ALLOCATIONS_GRANTS` changes the number of grants.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.common import bench_database, ensure_database, setup_django

CLAIMS = 1_000_000
BASELINE_CLAIMS = 20_000
RULE_TARGET = 1.0
VOTERS, PROJECTS = 10_000, 200
MES_TARGET = 5.0
GRANTS = int(os.environ.get("BENCH_ALLOCATIONS_GRANTS", "100000"))
COMMIT_TARGET = 20.0
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/hms_bench_allocations"


def _best(run: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = run()
        best = min(best, time.perf_counter() - start)
    return best, value


def _claims(n: int, seed: int = 1) -> Any:
    from allocations.rules import ClaimTable

    rng = np.random.default_rng(seed)
    keys = np.arange(1, n + 1, dtype=np.int64)
    rng.shuffle(keys)
    demand = rng.integers(10_000, 500_000, n)
    submitted = rng.integers(1_700_000_000_000_000, 1_800_000_000_000_000, n)
    return ClaimTable.build(keys, demand, submitted=submitted)


def bench_rules() -> bool:
    from allocations.rules import MAX_MIN, PRO_RATA, RoundSpec, allocate, metrics, reference
    from allocations.rules import tiebreak as ties

    table = _claims(CLAIMS)
    budget = int(table.demand.sum()) * 6 // 10
    small = _claims(BASELINE_CLAIMS, seed=2)
    small_budget = int(small.demand.sum()) * 6 // 10
    small_ties = list(
        zip(
            *(c.tolist() for c in ties.tie_columns("submitted", small.key, small.submitted, "")),
            strict=True,
        )
    )
    ok = True
    print(f"rules on {CLAIMS:,} claims (budget = 60% of demand), best of 3:")
    for rule, plain in ((MAX_MIN, reference.max_min), (PRO_RATA, reference.pro_rata)):
        spec = RoundSpec(budget=budget, rule=rule)
        seconds, result = _best(functools.partial(allocate, table, spec))
        assert result.total == budget
        met = seconds < RULE_TARGET
        ok &= met
        small_spec = RoundSpec(budget=small_budget, rule=rule)
        fast_small, fast_result = _best(functools.partial(allocate, small, small_spec))
        start = time.perf_counter()
        expected = plain(small_budget, [0] * len(small), small.demand.tolist(), small_ties)
        slow_small = time.perf_counter() - start
        assert fast_result.grant.tolist() == expected, "numpy and reference disagree"
        print(
            f"  {rule:<10} {seconds:6.3f} s   target {RULE_TARGET:.1f} s: ratio "
            f"{seconds / RULE_TARGET:.2f} ({'met' if met else 'MISSED'});   on "
            f"{BASELINE_CLAIMS:,}: numpy {fast_small * 1000:.1f} ms, reference "
            f"{slow_small * 1000:.0f} ms ({slow_small / fast_small:.0f}x)"
        )
    result = allocate(table, RoundSpec(budget=budget, rule=MAX_MIN))
    seconds, _ = _best(lambda: metrics(table, result.grant, budget))
    print(f"  metrics (Gini, Jain, shares met) on {CLAIMS:,} grants: {seconds:.3f} s")
    start = time.perf_counter()
    texts = result.explanations()
    print(
        f"  explanations for {CLAIMS:,} grants: {time.perf_counter() - start:.1f} s "
        f"({len(texts):,} texts; written once, when a round is computed)"
    )
    return ok


def _election(seed: int = 7) -> tuple[Any, Any, int]:
    from allocations.rules import Ballots, ClaimTable

    rng = np.random.default_rng(seed)
    costs = rng.integers(500, 20_000, PROJECTS) * 100
    popularity = rng.pareto(1.5, PROJECTS) + 0.2
    popularity /= popularity.sum()
    ballots = [
        (rng.choice(PROJECTS, size=int(rng.integers(1, 16)), replace=False, p=popularity) + 1)
        for _ in range(VOTERS)
    ]
    table = ClaimTable.build(np.arange(1, PROJECTS + 1), costs)
    return table, Ballots.from_keys(table, ballots), int(costs.sum()) * 3 // 10


def bench_equal_shares() -> bool:
    from fractions import Fraction

    from allocations.rules import EQUAL_SHARES, RoundSpec, allocate
    from allocations.rules import equal_shares as mes

    table, ballots, budget = _election()
    spec = RoundSpec(budget=budget, rule=EQUAL_SHARES)
    seconds, result = _best(lambda: allocate(table, spec, ballots))
    met = seconds < MES_TARGET
    funded = int((result.grant > 0).sum())
    print(
        f"equal shares, {VOTERS:,} voters, {PROJECTS} projects, Add1: {seconds:.2f} s   target "
        f"{MES_TARGET:.0f} s: ratio {seconds / MES_TARGET:.2f} ({'met' if met else 'MISSED'}); "
        f"{funded} funded, {result.facts['raises']} raises, spent {result.total:,} of {budget:,}"
    )
    supporters = ballots.supporters(PROJECTS)
    costs = table.demand.tolist()
    ranks = list(range(PROJECTS))
    share = Fraction(budget, VOTERS)
    fast, chosen = _best(lambda: mes.count_float(costs, supporters, VOTERS, share, ranks))
    start = time.perf_counter()
    exact = mes.count_exact(costs, supporters, VOTERS, share, ranks)
    slow = time.perf_counter() - start
    assert exact.chosen == chosen, "certified and exact counts disagree"
    print(
        f"  one count: certified floats {fast * 1000:.0f} ms, plain exact fractions "
        f"{slow * 1000:.0f} ms ({slow / fast:.0f}x), same {len(chosen)} projects"
    )
    return met


# --- committing into the ledger ----------------------------------------------------------------


def _setup_django() -> bool:
    import psycopg

    url = bench_database("BENCH_ALLOCATIONS_DATABASE_URL", DEFAULT_URL)
    try:
        ensure_database(url)
    except psycopg.OperationalError as error:
        print(f"commit of {GRANTS:,} grants: skipped (no PostgreSQL: {error})")
        return False
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    return True


def _seeded_round() -> Any:
    """An approved round of GRANTS grants (seeded once: claims, payees, round computed through
    the services, then marked approved directly: a bench database only)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.db import transaction

    from allocations import services as allocations
    from allocations.models import AllocationRound, Claim, ClaimStatus, Fund, RoundState
    from core.audit import system_user
    from governance.models import Program
    from ledger.models import Account, AccountType, OwnerKind

    name = f"Bench round of {GRANTS}"
    existing = AllocationRound.objects.filter(name=name, state=RoundState.APPROVED).first()
    if existing is not None:
        return existing
    print(f"  seeding {GRANTS:,} claims and an approved round (first run only) ...", flush=True)
    actor = system_user()
    officer, _ = get_user_model().objects.get_or_create(
        username=f"bench-officer-{GRANTS}", defaults={"is_staff": True}
    )
    officer.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="allocations", codename__in=["run_round", "commit_round"]
        )
    )
    officer = type(officer).objects.get(pk=officer.pk)
    program, _ = Program.objects.get_or_create(code="bench", defaults={"name": "Bench"})
    fund = allocations.fund_open(
        actor=actor, program=program, code=f"bench-{GRANTS}", name=f"Bench fund {GRANTS}"
    )
    Fund.objects.filter(pk=fund.pk).update(allocates_by_round=True)
    fund.refresh_from_db()
    allocations.fund_credit(
        actor=actor, fund=fund, amount_minor=10**13, idempotency_key=f"bench-seed-{GRANTS}"
    )
    with transaction.atomic():
        payees = Account.objects.bulk_create(
            Account(
                code=f"BENCH-PAYEE-{GRANTS}-{i}",
                name=f"Bench payee {i}",
                type=AccountType.LIABILITY,
                currency="USD",
                owner_kind=OwnerKind.CIVILIAN,
                owner_ref=f"bench-{i}",
            )
            for i in range(GRANTS)
        )
        rng = np.random.default_rng(3)
        amounts = rng.integers(10_000, 500_000, GRANTS).tolist()
        Claim.objects.bulk_create(
            (
                Claim(
                    fund=fund,
                    reference=f"BENCH-{GRANTS}-{i}",
                    amount_minor=amounts[i],
                    currency="USD",
                    payee_account=payees[i],
                    status=ClaimStatus.AWAITING_FUNDS,
                    created_by=actor,
                )
                for i in range(GRANTS)
            ),
            batch_size=5_000,
        )
    round_ = allocations.round_create(
        actor=officer,
        fund=fund,
        name=name,
        budget_minor=sum(amounts) * 6 // 10,
        rule="max_min",
    )
    allocations.round_open(actor=officer, round_id=round_.pk)
    allocations.round_freeze(actor=officer, round_id=round_.pk)
    allocations.round_compute(actor=officer, round_id=round_.pk)
    AllocationRound.objects.filter(pk=round_.pk).update(state=RoundState.APPROVED)
    return AllocationRound.objects.get(pk=round_.pk)


def _fresh_copy(url: str) -> None:
    """Point Django at a fresh copy of the seeded database (CREATE DATABASE ... TEMPLATE), so
    the measured transaction can really commit (deferred foreign-key and balance checks
    included) and the next run still starts from the same approved round."""
    import psycopg
    from django.db import connections

    base, name = url.rsplit("/", 1)
    copy = f"{name}_run"
    connections["default"].close()
    connections["default"].settings_dict["NAME"] = name
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{copy}"')
        conn.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"')
    connections["default"].settings_dict["NAME"] = copy


def _drop_copy(url: str) -> None:
    import psycopg
    from django.db import connections

    base, name = url.rsplit("/", 1)
    connections["default"].close()
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}_run"')


def _timed(url: str, works: list[Callable[[], Any]], repeat: int = 2) -> list[float]:
    """Best time of each of `works` in one committed transaction, each run on a fresh copy.
    The works take turns (a, b, a, b), so a change in the machine's load during the run
    weighs on each of them alike."""
    from django.db import transaction

    best = [float("inf")] * len(works)
    for _ in range(repeat):
        for i, work in enumerate(works):
            _fresh_copy(url)
            start = time.perf_counter()
            with transaction.atomic():
                work()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def bench_commit() -> bool:
    if not _setup_django():
        return True
    from allocations import services
    from allocations.models import AllocationGrant, AllocationRound, Claim
    from ledger import services as ledger

    url = os.environ["DATABASE_URL"]
    round_id = _seeded_round().pk
    _fresh_copy(url)
    round_ = AllocationRound.objects.select_related("fund", "created_by").get(pk=round_id)
    officer, fund = round_.created_by, round_.fund
    grants = list(
        AllocationGrant.objects.filter(round=round_, granted_minor__gt=0)
        .order_by("line")
        .values_list("claim_id", "granted_minor")
    )
    payee = dict(Claim.objects.filter(round=round_).values_list("pk", "payee_account_id"))
    specs = [
        ledger.TransferSpec(
            idempotency_key=f"bench-baseline-{claim_id}",
            debit_account_id=fund.account_id,
            credit_account_id=payee[claim_id],
            amount_minor=granted,
            currency="USD",
            pending=True,
            reference=f"bench-{claim_id}",
        )
        for claim_id, granted in grants
    ]

    def ledger_only() -> None:
        for start in range(0, len(specs), ledger.MAX_BATCH):
            ledger.transfers_create(actor=officer, specs=specs[start : start + ledger.MAX_BATCH])

    def commit() -> None:
        services.round_commit(actor=officer, round_id=round_id)

    baseline, seconds = _timed(url, [ledger_only, commit])
    _drop_copy(url)
    met = seconds < COMMIT_TARGET
    print(
        f"commit of {len(grants):,} grants: {seconds:.1f} s   target {COMMIT_TARGET:.0f} s: ratio "
        f"{seconds / COMMIT_TARGET:.2f} ({'met' if met else 'MISSED'});   ledger batch path "
        f"alone {baseline:.1f} s (commit / ledger = {seconds / baseline:.2f}), "
        f"{len(grants) / seconds:,.0f} grants/s (each timed transaction committed, on a fresh "
        "copy of the seeded database; best of 2, taking turns with the baseline; load average "
        f"{os.getloadavg()[0]:.1f})"
    )
    return met


def main() -> int:
    ok = bench_rules()
    ok &= bench_equal_shares()
    ok &= bench_commit()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
