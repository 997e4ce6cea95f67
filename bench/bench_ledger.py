"""Benchmark: ledger transfers on PostgreSQL, through the service and as raw SQL.

Run with `uv run python -m bench bench_ledger` (or `make bench`). Database:
`BENCH_LEDGER_DATABASE_URL` (default postgres://postgres@127.0.0.1:5432/hms_bench_ledger), created
and migrated if missing; every run adds its own accounts and transfers.

Measured in the same run:
1. Single transfers, one transaction each, through `ledger.services.transfer_create`, against
   the same SQL statements issued directly with psycopg (taken from `ledger.services`: lock the
   head, lock both accounts, insert the transfer, skipping a taken idempotency key, and its two
   postings, update the accounts and the head; the same payload digest and SHA-256 chain hash).
   Target: ratio at least 0.8.
2. Batches of 8,000 transfers through `ledger.services.transfers_create` (the batch API's
   service). Target: at least 20,000 transfers per second, every invariant intact afterwards
   (balances equal to their postings, the chain gapless and linked).
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from typing import Any

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/hms_bench_ledger"
SINGLES = int(os.environ.get("BENCH_LEDGER_SINGLES", "1500"))
BATCHES = int(os.environ.get("BENCH_LEDGER_BATCHES", "4"))
BATCH_SIZE = 8_000
SINGLE_TARGET = 0.8
BATCH_TARGET = 20_000


def _setup() -> str:
    url = os.environ.get("BENCH_LEDGER_DATABASE_URL", DEFAULT_URL)
    os.environ["DATABASE_URL"] = url
    os.environ["HMS_TESTING"] = "1"  # plain settings: no TLS redirect, in-process tasks
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hms_portal.settings")
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    return url


def _accounts(actor: Any, run: str, count: int) -> list[Any]:
    from tests.builders import ledger_account

    return [ledger_account(actor, f"bench-{run}-{n}") for n in range(count)]


def _service_singles(actor: Any, accounts: list[Any], run: str) -> float:
    from ledger import services

    started = time.perf_counter()
    for n in range(SINGLES):
        debit, credit = accounts[n % len(accounts)], accounts[(n + 1) % len(accounts)]
        services.transfer_create(
            actor=actor,
            idempotency_key=f"svc-{run}-{n}",
            debit_account_id=debit.pk,
            credit_account_id=credit.pk,
            amount_minor=100 + n,
            currency="USD",
        )
    return SINGLES / (time.perf_counter() - started)


def _raw_singles(url: str, actor: Any, accounts: list[Any], run: str) -> float:
    """The service's statements for a posted transfer, issued with psycopg directly.

    The SQL is imported from `ledger.services`, so the baseline is always the statements the
    service issues: lock the head, lock both accounts (id order), insert the transfer (a taken
    key inserts nothing; the service then looks it up), insert its two postings, write both
    accounts' totals, move the head. The same payload digest and chain hash are computed."""
    import psycopg
    from django.db import connection
    from django.utils import timezone
    from psycopg.types.numeric import Int8Dumper

    from ledger import services
    from ledger.chain import chain_hash

    # The PostgreSQL forms of the service's statements (row locks with FOR UPDATE).
    assert connection.vendor == "postgresql"
    head_sql, accounts_sql = services.head_lock_sql(), services.accounts_lock_sql(2)
    postings_sql, totals_sql = services.postings_insert_sql(2), services.account_totals_sql(2)
    insert_sql, head_update_sql = services.INSERT_TRANSFER_SQL, services.HEAD_UPDATE_SQL
    with psycopg.connect(url) as conn:
        # As the service does (`ledger.services._Sql`): whole numbers as int8, every
        # statement prepared from its first use.
        conn.adapters.register_dumper(int, Int8Dumper)
        conn.prepare_threshold = 0
        started = time.perf_counter()
        for n in range(SINGLES):
            debit, credit = accounts[n % len(accounts)], accounts[(n + 1) % len(accounts)]
            key, amount = f"raw-{run}-{n}", 100 + n
            spec = services.TransferSpec(
                idempotency_key=key,
                debit_account_id=debit.pk,
                credit_account_id=credit.pk,
                amount_minor=amount,
                currency="USD",
            )
            digest = services._spec_digest("posted", spec)
            with conn.transaction():
                sequence, prev, _stored = conn.execute(head_sql).fetchone()  # type: ignore[misc]
                locked = {
                    row[0]: row
                    for row in conn.execute(accounts_sql, sorted([debit.pk, credit.pk])).fetchall()
                }
                # id, code, currency, closed, limits, then the four totals
                d_row, c_row = locked[debit.pk], locked[credit.pk]
                now = timezone.now()
                sequence += 1
                new_hash = chain_hash(
                    sequence=sequence,
                    idempotency_key=key,
                    kind="posted",
                    pending_sequence=None,
                    reverses_sequence=None,
                    debit_code=d_row[1],
                    credit_code=c_row[1],
                    amount_minor=amount,
                    currency="USD",
                    expires_at=None,
                    reference="",
                    memo="",
                    created_by_id=actor.pk,
                    created_at=now,
                    prev_hash=prev,
                )
                (transfer_id,) = conn.execute(  # type: ignore[misc]
                    insert_sql,
                    [
                        sequence,
                        key,
                        "posted",
                        None,
                        debit.pk,
                        credit.pk,
                        amount,
                        "USD",
                        None,
                        None,
                        "",
                        "",
                        actor.pk,
                        now,
                        digest,
                        prev,
                        new_hash,
                    ],
                ).fetchone()
                conn.execute(
                    postings_sql,
                    [
                        *(transfer_id, debit.pk, "debit", "posted", amount, "USD"),
                        *(transfer_id, credit.pk, "credit", "posted", amount, "USD"),
                    ],
                )
                totals = {
                    debit.pk: [d_row[6], d_row[7] + amount, d_row[8], d_row[9]],
                    credit.pk: [c_row[6], c_row[7], c_row[8], c_row[9] + amount],
                }
                ids = sorted(totals)
                conn.execute(
                    totals_sql, services.account_totals_params(ids, [totals[i] for i in ids])
                )
                conn.execute(head_update_sql, [sequence, new_hash])
        return SINGLES / (time.perf_counter() - started)


def _batches(actor: Any, accounts: list[Any], run: str) -> list[float]:
    from ledger import services

    rates = []
    for b in range(BATCHES):
        specs = [
            services.TransferSpec(
                idempotency_key=f"batch-{run}-{b}-{n}",
                debit_account_id=accounts[n % len(accounts)].pk,
                credit_account_id=accounts[(n * 7 + 1) % len(accounts)].pk,
                amount_minor=1 + n % 9_999,
                currency="USD",
            )
            for n in range(BATCH_SIZE)
            if n % len(accounts) != (n * 7 + 1) % len(accounts)
        ]
        started = time.perf_counter()
        services.transfers_create(actor=actor, specs=specs)
        rates.append(len(specs) / (time.perf_counter() - started))
    return rates


def _invariants_hold(run: str) -> list[str]:
    """Balances equal to their postings for this run's accounts; the chain gapless and linked."""
    from django.db import connection

    problems = []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.code FROM ledger_account a
            LEFT JOIN (
                SELECT account_id,
                       SUM(CASE WHEN side = 'debit' AND phase = 'posted' THEN amount_minor END) dp,
                       SUM(CASE WHEN side = 'credit' AND phase = 'posted' THEN amount_minor END) cp
                FROM ledger_posting GROUP BY account_id
            ) p ON p.account_id = a.id
            WHERE a.code LIKE %s
              AND (a.debits_posted <> COALESCE(p.dp, 0) OR a.credits_posted <> COALESCE(p.cp, 0))
            """,
            [f"bench-{run}-%"],
        )
        problems += [f"balance of {code} differs from its postings" for (code,) in cursor]
        cursor.execute(
            """
            SELECT count(*) FROM (
                SELECT sequence, prev_hash, LAG(hash) OVER (ORDER BY sequence) AS before,
                       LAG(sequence) OVER (ORDER BY sequence) AS before_sequence
                FROM ledger_transfer
            ) chain
            WHERE before IS NOT NULL AND (prev_hash <> before OR sequence <> before_sequence + 1)
            """
        )
        (breaks,) = cursor.fetchone()
        if breaks:
            problems.append(f"{breaks} breaks in the chain")
    return problems


def main() -> int:
    load_before = os.getloadavg()[0]
    url = _setup()
    from core.audit import system_user

    actor = system_user()
    run = uuid.uuid4().hex[:8]
    accounts = _accounts(actor, run, 50)
    service_rates, raw_rates = [], []
    for _ in range(2):  # alternate, so both see the same machine
        raw_rates.append(_raw_singles(url, actor, accounts, run + f"r{len(raw_rates)}"))
        service_rates.append(_service_singles(actor, accounts, run + f"s{len(service_rates)}"))
    service, raw = max(service_rates), max(raw_rates)
    ratio = service / raw
    batch_rates = _batches(actor, accounts, run)
    batch = statistics.median(batch_rates)
    problems = _invariants_hold(run)

    print(f"single transfers ({SINGLES} each, one transaction each, best of 2):")
    print(f"  raw SQL (psycopg)   {raw:8.0f} transfers/s")
    print(f"  service             {service:8.0f} transfers/s")
    verdict = "met" if ratio >= SINGLE_TARGET else "MISSED"
    print(f"  ratio service/raw = {ratio:.2f} (target >= {SINGLE_TARGET}): {verdict}")
    print(f"batches of {BATCH_SIZE} through transfers_create ({BATCHES} batches):")
    print("  " + ", ".join(f"{r:,.0f}" for r in batch_rates) + " transfers/s")
    verdict = "met" if batch >= BATCH_TARGET else "MISSED"
    print(f"  median {batch:,.0f} transfers/s (target >= {BATCH_TARGET:,}): {verdict}")
    print("invariants: " + ("intact" if not problems else "; ".join(problems)))
    # Other processes on the machine move every figure above: read them with the load.
    print(f"load average (1 min): {load_before:.2f} at start, {os.getloadavg()[0]:.2f} at end")
    return 0 if ratio >= SINGLE_TARGET and batch >= BATCH_TARGET and not problems else 1
