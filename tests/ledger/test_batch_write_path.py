"""The streamed batch path (`ledger.services.batch`) keeps every rule of a single transfer.

It checks, hashes and digests each item in its own loop instead of the single-transfer code, so
these tests hold it to that code: the same refusal for the same item (named by its position,
nothing written), the same digests, hashes the verifier recomputes, replays in place.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from django.utils import timezone as django_timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import services
from ledger.models import Account, Transfer, TransferKind
from ledger.verify import verify_ledger
from tests.builders import ledger_account, move

_keys = itertools.count()


@pytest.fixture
def world(actor: Any) -> dict[str, Account]:
    """A limited fund holding 1,000.00, a payee, an account that may not be credited beyond its
    debits, a closed account and a EUR account."""
    source = ledger_account(actor, "source")
    fund = ledger_account(actor, "fund", limited=True)
    move(actor, "fund-it", source, fund, 100_000)
    capped = services.account_open(
        actor=actor,
        code="capped",
        name="Capped",
        type=services.AccountType.ASSET,
        currency="USD",
        owner_kind=services.OwnerKind.BUREAU,
        credits_must_not_exceed_debits=True,
    )
    closed = ledger_account(actor, "closed")
    Account.objects.filter(pk=closed.pk).update(closed=True)
    return {
        "source": source,
        "fund": fund,
        "payee": ledger_account(actor, "payee"),
        "capped": capped,
        "closed": closed,
        "euro": ledger_account(actor, "euro", currency="EUR"),
    }


def _spec(key: str, debit: Any, credit: Any, amount: Any = 100, **extra: Any) -> Any:
    """A USD spec; accounts by instance, or by a raw id (a bad one too, to see it refused)."""
    debit_id: Any = debit if isinstance(debit, int | str) else debit.pk
    credit_id: Any = credit if isinstance(credit, int | str) else credit.pk
    return services.TransferSpec(
        idempotency_key=key,
        debit_account_id=debit_id,
        credit_account_id=credit_id,
        amount_minor=amount,
        currency=extra.pop("currency", "USD"),
        **extra,
    )


def _soon() -> datetime:
    return django_timezone.now() + timedelta(hours=1)


# Each case: a function of the world giving the refused spec, and the refusal's code.
REFUSALS = {
    "zero amount": (lambda w: _spec("r", w["fund"], w["payee"], 0), "invalid_amount"),
    "amount too large": (lambda w: _spec("r", w["source"], w["payee"], 10**15), "invalid_amount"),
    "boolean amount": (lambda w: _spec("r", w["source"], w["payee"], True), "invalid_amount"),
    "fractional amount": (lambda w: _spec("r", w["source"], w["payee"], 1.5), "invalid_amount"),
    "same account": (lambda w: _spec("r", w["payee"], w["payee"]), "same_account"),
    "unknown account": (lambda w: _spec("r", w["source"], 10**9), "unknown_account"),
    "account id not a number": (lambda w: _spec("r", "x", w["payee"]), "unknown_account"),
    "other currency": (lambda w: _spec("r", w["source"], w["euro"]), "currency_mismatch"),
    "wrong currency asked": (
        lambda w: _spec("r", w["source"], w["payee"], currency="EUR"),
        "currency_mismatch",
    ),
    "debit account closed": (lambda w: _spec("r", w["closed"], w["payee"]), "account_closed"),
    "credit account closed": (lambda w: _spec("r", w["source"], w["closed"]), "account_closed"),
    "expiry on a posted transfer": (
        lambda w: _spec("r", w["fund"], w["payee"], expires_at=_soon()),
        "expiry_not_pending",
    ),
    "expiry in the past": (
        lambda w: _spec(
            "r",
            w["fund"],
            w["payee"],
            pending=True,
            expires_at=django_timezone.now() - timedelta(seconds=1),
        ),
        "expiry_in_past",
    ),
    "fund overdrawn": (lambda w: _spec("r", w["fund"], w["payee"], 100_001), "exceeds_credits"),
    "fund over-reserved": (
        lambda w: _spec("r", w["fund"], w["payee"], 100_001, pending=True),
        "exceeds_credits",
    ),
    "credited beyond debits": (
        lambda w: _spec("r", w["source"], w["capped"]),
        "exceeds_debits",
    ),
    "key used for another payload": (
        lambda w: _spec("fund-it", w["source"], w["fund"], 99_999),
        "idempotency_conflict",
    ),
}


@pytest.mark.parametrize("case", REFUSALS, ids=list(REFUSALS))
def test_a_batch_refuses_an_item_as_a_single_transfer_would_and_writes_nothing(
    actor: Any, world: dict[str, Account], case: str
) -> None:
    make, code = REFUSALS[case]
    refused_spec = make(world)
    with pytest.raises(services.LedgerError) as single:
        services.transfers_create(actor=actor, specs=[refused_spec])
    assert single.value.code == code
    before = Transfer.objects.count()
    totals = list(Account.objects.order_by("pk").values_list("debits_posted", "credits_posted"))
    fine = _spec("fine", world["source"], world["payee"], 10)  # touches no limited account
    with pytest.raises(services.LedgerError) as batch:
        services.transfers_create(actor=actor, specs=[fine, refused_spec, fine])
    assert batch.value.code == code
    assert batch.value.messages == [f"Item 1: {single.value.messages[0]}"]
    assert batch.value.params == {"index": 1}
    assert Transfer.objects.count() == before
    after = list(Account.objects.order_by("pk").values_list("debits_posted", "credits_posted"))
    assert after == totals


def test_the_limit_counts_the_items_before_in_the_same_batch(
    actor: Any, world: dict[str, Account]
) -> None:
    specs = [_spec(f"l{n}", world["fund"], world["payee"], 40_000) for n in range(3)]
    with pytest.raises(services.LedgerError, match="Item 2: Account fund has 20000 available"):
        services.transfers_create(actor=actor, specs=specs)


def test_a_key_repeated_in_a_batch_is_written_once_and_a_changed_repeat_is_refused(
    actor: Any, world: dict[str, Account]
) -> None:
    first = _spec("twice", world["fund"], world["payee"], 500)
    written = services.transfers_create(actor=actor, specs=[first, first])
    assert written[0].pk == written[1].pk
    assert Transfer.objects.filter(idempotency_key="twice").count() == 1
    changed = _spec("again", world["fund"], world["payee"], 500)
    with pytest.raises(services.LedgerError) as refused:
        services.transfers_create(
            actor=actor, specs=[changed, _spec("again", world["fund"], world["payee"], 501)]
        )
    assert refused.value.code == "idempotency_conflict"
    assert refused.value.params == {"index": 1}


def test_stored_and_new_items_come_back_in_the_order_asked(
    actor: Any, world: dict[str, Account]
) -> None:
    stored = services.transfers_create(
        actor=actor, specs=[_spec("s1", world["fund"], world["payee"], 1)]
    )[0]
    new = _spec("n1", world["fund"], world["payee"], 2)
    again = _spec("s1", world["fund"], world["payee"], 1)
    result = services.transfers_create(actor=actor, specs=[new, again, new])
    assert [t.idempotency_key for t in result] == ["n1", "s1", "n1"]
    assert result[1].pk == stored.pk
    assert result[0].sequence == stored.sequence + 1
    assert services.transfers_create(actor=actor, specs=[again, again]) == [stored, stored]


def test_a_batch_of_replays_only_writes_nothing(actor: Any, world: dict[str, Account]) -> None:
    specs = [_spec(f"o{n}", world["fund"], world["payee"], n + 1) for n in range(3)]
    first = services.transfers_create(actor=actor, specs=specs)
    head = Transfer.objects.order_by("-sequence").first()
    assert services.transfers_create(actor=actor, specs=specs) == first
    assert Transfer.objects.order_by("-sequence").first() == head


def test_the_instances_returned_are_the_rows_stored(actor: Any, world: dict[str, Account]) -> None:
    specs = [
        _spec("i1", world["fund"], world["payee"], 700, reference="ref-1", memo="rent"),
        _spec("i2", world["fund"], world["payee"], 300, pending=True, expires_at=_soon()),
    ]
    written = services.transfers_create(actor=actor, specs=specs)
    fields = [f.attname for f in Transfer._meta.concrete_fields]
    for transfer in written:
        stored = Transfer.objects.get(pk=transfer.pk)
        assert {f: getattr(transfer, f) for f in fields} == {f: getattr(stored, f) for f in fields}
        assert transfer.created_by == actor
    assert [t.kind for t in written] == [TransferKind.POSTED, TransferKind.PENDING]


# Text a client may send: any Unicode but NUL (PostgreSQL stores no NUL in text) and lone
# surrogates (no UTF-8 for them: no database driver takes them, whatever the path).
_text = st.text(
    alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
    max_size=40,
)
_zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            _text,  # key suffix
            st.integers(1, 10**12),
            st.booleans(),  # pending
            st.one_of(st.none(), st.integers(60, 10**7)),  # expiry in seconds, if pending
            _zones,
            _text,  # reference
            _text,  # memo
        ),
        min_size=2,
        max_size=12,
    )
)
def test_batched_transfers_carry_the_digests_and_hashes_the_single_path_defines(
    actor: Any, items: list[tuple[Any, ...]]
) -> None:
    source = ledger_account(actor, "hyp-source")
    payee = ledger_account(actor, "hyp-payee")
    run = next(_keys)
    specs = []
    for n, (suffix, amount, pending, expiry, zone, reference, memo) in enumerate(items):
        expires_at = (
            (django_timezone.now() + timedelta(seconds=expiry)).astimezone(zone)
            if pending and expiry is not None
            else None
        )
        specs.append(
            _spec(
                f"h{run}-{n}-{suffix}",
                source,
                payee,
                amount,
                pending=pending,
                expires_at=expires_at,
                reference=reference,
                memo=memo,
            )
        )
    written = services.transfers_create(actor=actor, specs=specs)
    for spec, transfer in zip(specs, written, strict=True):
        kind = "pending" if spec.pending else "posted"
        payload = {
            "kind": kind,
            "debit": spec.debit_account_id,
            "credit": spec.credit_account_id,
            "amount_minor": spec.amount_minor,
            "currency": spec.currency,
            "expires_at": spec.expires_at.isoformat() if spec.expires_at else None,
            "reference": spec.reference,
            "memo": spec.memo,
        }
        assert transfer.payload_digest == services._digest(payload)
    report = verify_ledger()  # recomputes every hash with `ledger.chain.chain_hash`
    assert report.ok, report.problems[:3]
