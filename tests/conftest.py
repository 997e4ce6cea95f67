"""Personas and the bureau they work in, shared by every test.

Two programs: housing (with a funded service type and a plain one) and business (one service
type). The reviewer and supervisor hold their authority on housing only; `outsider_reviewer`
reviews business. A superuser-free world: every right is explicit.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection
from guardian.shortcuts import assign_perm

from allocations import services as allocations
from core import roles
from core.audit import system_user
from tests.factories import ProgramFactory, ServiceTypeFactory, UserFactory

IN_CI = os.environ.get("CI", "").lower() == "true"
# Reading a signed-in session: from the cache with Redis (cached_db), from the database without
# it, one query more. Query-count tests add this to what their page itself runs.
SESSION_QUERIES = 0 if settings.SESSION_ENGINE.endswith("cached_db") else 1
PASSWORD = "correct-horse-battery"


def require_service(available: bool, what: str) -> None:
    """Skip locally when a service is missing; in CI a missing service fails the run."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI but is not configured", pytrace=False)
    pytest.skip(f"{what} is not configured (set it to run this test)")


@pytest.fixture(scope="session", autouse=True)
def _flush_past_the_ledger_truncate_guard() -> Iterator[None]:
    """A transactional test ends with a flush, one TRUNCATE of every table, which the ledger's
    BEFORE TRUNCATE triggers refuse on PostgreSQL (ledger migration 0014). The tests connect as
    the superuser, so their flush runs with triggers off (`session_replication_role =
    replica`, for that transaction only)."""
    from django.db import transaction
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.execute_sql_flush

    def flush(self: DatabaseOperations, sql_list: list[str]) -> None:
        with transaction.atomic(using=self.connection.alias):
            with self.connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = replica")
            original(self, sql_list)

    DatabaseOperations.execute_sql_flush = flush  # type: ignore[method-assign]
    yield
    DatabaseOperations.execute_sql_flush = original  # type: ignore[method-assign]


@pytest.fixture
def require_postgres() -> None:
    require_service(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")


@pytest.fixture
def require_redis() -> None:
    require_service(bool(settings.REDIS_URL), "Redis (REDIS_URL)")


def wait_for(predicate: Callable[[], bool], seconds: float = 60.0) -> bool:
    """Poll `predicate` until it holds or `seconds` pass (for work done by the worker thread)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def use_broker(app: Any, url: str) -> None:
    """Point the app's publishers at `url` (kombu keeps one producer pool per broker URL)."""
    app._pool = None
    app.amqp._producer_pool = None
    app.conf.broker_url = url


@pytest.fixture(scope="session")
def _celery_worker() -> Iterator[Any]:
    """One real Celery worker thread (solo pool) on the Redis broker for the whole session.

    Every worker test (marker `worker`, run by `make test` in a pytest process of their own)
    shares it, so no consumer is stopped and started between tests."""
    from celery.contrib.testing.worker import start_worker

    from hms_portal.celery import app

    require_service(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    require_service(bool(settings.REDIS_URL), "Redis (REDIS_URL)")
    app.control.purge()
    # With one slot, late acks and a prefetch of 1, the Redis transport can leave the worker
    # without a pending BRPOP after an ack until something else wakes its loop (celery#7718);
    # a few prefetched messages keep the tests from waiting on that.
    with start_worker(
        app, pool="solo", perform_ping_check=False, shutdown_timeout=10, prefetch_multiplier=4
    ):
        yield app


@pytest.fixture
def celery_app(_celery_worker: Any) -> Iterator[Any]:
    """The Celery app publishing to the real broker for one test (tasks run in-process
    before and after it)."""
    _celery_worker.conf.task_always_eager = False
    try:
        yield _celery_worker
    finally:
        _celery_worker.conf.task_always_eager = True


@pytest.fixture(autouse=True)
def _no_cached_catalogue(settings) -> None:  # type: ignore[no-untyped-def]
    """Every test starts without the cached set of subscribed webhook event types (one key,
    shared by every test: query counts are asserted). The local-memory cache (no Redis) is
    this process's own, and SQLite reuses ids after a rollback, so it is cleared whole: no
    filing service or rate counter of an earlier test carries over. Redis is shared with the
    other test process and the broker, so it is left alone: on PostgreSQL ids are never reused,
    and the entries keyed by them never meet a later test's rows."""
    from django.core.cache import cache

    from integrations.outbox import SUBSCRIBED_TYPES_CACHE_KEY, forget_local_subscribed_types

    cache.delete(SUBSCRIBED_TYPES_CACHE_KEY)
    forget_local_subscribed_types()
    if not settings.REDIS_URL:
        cache.clear()


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Every test starts in the default language and leaves none behind: the locale middleware
    activates a page's language in the thread that served it (the test client's), and a later
    test in the same process would otherwise read its messages in that language."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _filing_limits_lifted(settings) -> None:  # type: ignore[no-untyped-def]
    """The filing limits count per account and per client address, and the whole run files
    from 127.0.0.1: lifted for every test; tests/service_requests/test_filing_limits.py sets
    the real ones in a key space of its own."""
    for name in ("PER_CLIENT", "PER_ACCOUNT_SHORT", "PER_ACCOUNT_LONG"):
        setattr(settings, f"HMS_REQUESTS_FILING_LIMIT_{name}", 10**9)


def _person(username: str, role: str | None, *, staff: bool = False):  # type: ignore[no-untyped-def]
    if role and not Group.objects.filter(name=role).exists():
        # A transactional test's flush empties the tables the data migration filled.
        roles.sync_roles(django_apps)
    user = UserFactory(username=username, is_staff=staff, roles=[role] if role else [])
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


@pytest.fixture
def actor(db):  # type: ignore[no-untyped-def]
    return system_user()


def one_step_policy(program):  # type: ignore[no-untyped-def]
    """Today's behaviour as a policy: one approval by a holder of the program's decide
    permission, for every subject kind and amount, a reason required for every outcome."""
    from governance import services as governance

    return governance.policy_create(
        actor=system_user(),
        program=program,
        code=f"{program.code}-default",
        name=f"{program.name}: one supervisor",
        steps=[governance.StepSpec(name="Supervisor", reason_on_approve=True)],
        activate=True,
    )


@pytest.fixture
def housing(db):  # type: ignore[no-untyped-def]
    program = ProgramFactory(code="housing", name="Housing Stability")
    one_step_policy(program)
    return program


@pytest.fixture
def business(db):  # type: ignore[no-untyped-def]
    program = ProgramFactory(code="business", name="Small Business Recovery")
    one_step_policy(program)
    return program


@pytest.fixture
def rent_fund(housing, actor):  # type: ignore[no-untyped-def]
    """The housing fund, holding 10,000.00 USD."""
    fund = allocations.fund_open(
        actor=actor, program=housing, code="rent-relief", name="Rent relief"
    )
    allocations.fund_credit(
        actor=actor, fund=fund, amount_minor=1_000_000, idempotency_key="seed-rent"
    )
    return fund


@pytest.fixture
def rent_help(housing, rent_fund):  # type: ignore[no-untyped-def]
    """A funding service type: pays up to 5,000.00 out of the rent fund."""
    return ServiceTypeFactory(
        code="rent-help",
        name="Emergency rent help",
        program=housing,
        fund=rent_fund,
        max_amount_minor=500_000,
    )


@pytest.fixture
def inspection(housing):  # type: ignore[no-untyped-def]
    """A service type that pays nothing out."""
    return ServiceTypeFactory(code="inspection", name="Home safety inspection", program=housing)


@pytest.fixture
def permit_help(business):  # type: ignore[no-untyped-def]
    return ServiceTypeFactory(code="permit-help", name="Permit guidance", program=business)


@pytest.fixture
def civilian(db):  # type: ignore[no-untyped-def]
    return _person("alice", roles.CIVILIAN)


@pytest.fixture
def other_civilian(db):  # type: ignore[no-untyped-def]
    return _person("bob", roles.CIVILIAN)


@pytest.fixture
def reviewer(housing):  # type: ignore[no-untyped-def]
    user = _person("rita", roles.REVIEWER, staff=True)
    assign_perm("governance.review_program", user, housing)
    return user


@pytest.fixture
def outsider_reviewer(business):  # type: ignore[no-untyped-def]
    user = _person("oscar", roles.REVIEWER, staff=True)
    assign_perm("governance.review_program", user, business)
    return user


@pytest.fixture
def supervisor(housing):  # type: ignore[no-untyped-def]
    user = _person("sam", roles.SUPERVISOR, staff=True)
    assign_perm("governance.review_program", user, housing)
    assign_perm("governance.decide_program", user, housing)
    return user


@pytest.fixture
def outsider_supervisor(business):  # type: ignore[no-untyped-def]
    """A supervisor whose authority is on another program."""
    user = _person("olga", roles.SUPERVISOR, staff=True)
    assign_perm("governance.decide_program", user, business)
    return user


@pytest.fixture
def finance_officer(db):  # type: ignore[no-untyped-def]
    return _person("fiona", roles.FINANCE_OFFICER, staff=True)


@pytest.fixture
def auditor(db):  # type: ignore[no-untyped-def]
    return _person("audrey", roles.AUDITOR, staff=True)


@pytest.fixture(autouse=True)
def _staff_signed_in_with_mfa(monkeypatch: pytest.MonkeyPatch) -> None:
    """`client.force_login(staff)` signs staff in as allauth's sign-in with a second factor
    would (`tests.builders.mark_signed_in_with_mfa`): every staff page requires one. Tests of
    the second factor itself sign in through the real pages instead."""
    from django.test import Client

    from core.roles import is_staff_member
    from tests.builders import mark_signed_in_with_mfa

    force_login = Client.force_login

    def force_login_with_mfa(self: Client, user: Any, backend: str | None = None) -> None:
        force_login(self, user, backend)
        if is_staff_member(user):
            mark_signed_in_with_mfa(self, user)

    monkeypatch.setattr(Client, "force_login", force_login_with_mfa)
