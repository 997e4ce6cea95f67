"""Moving money from /portfolio/: second factor, limits, approval above the threshold, double
clicks, both sides updated, and the running position in the open clearing cycle."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from django.utils import timezone, translation
from guardian.shortcuts import assign_perm

from governance import services as governance
from governance.models import Outcome
from ledger import selectors as ledger_selectors
from ledger import services as ledger
from ledger.models import Account, OwnerKind, Transfer, TransferKind
from participants.services import transfers
from tests.builders import ledger_account, move

pytestmark = pytest.mark.django_db

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def code_at(offset: int = 0) -> str:
    """The TOTP code of SECRET, `offset` periods from now."""
    return format_hotp_value(hotp_value(SECRET, int(time.time()) // 30 + offset))


@pytest.fixture(autouse=True)
def approvals(settings: Any, housing: Any) -> None:
    settings.HMS_LEDGER_PARTICIPANT_APPROVAL_ABOVE_MINOR = 10_000
    settings.HMS_LEDGER_PARTICIPANT_APPROVAL_PROGRAM = housing.code


@pytest.fixture
def accounts(actor: Any, civilian: Any, other_civilian: Any) -> dict[str, Any]:
    """Alice holds 500.00 posted; Bob has an account; a vendor is listed as a payee."""
    fund = ledger_account(actor, "FUND")

    def payee(owner_kind: str, ref: str, name: str) -> Account:
        return ledger.payee_account_for(
            actor=actor, owner_kind=owner_kind, owner_ref=ref, name=name, currency="USD"
        )

    alice = payee(OwnerKind.CIVILIAN, str(civilian.pk), "Payable to Alice Example")
    bob = payee(OwnerKind.CIVILIAN, str(other_civilian.pk), "Payable to Bob Secretname")
    vendor = payee(OwnerKind.VENDOR, "acme", "Acme Repairs")
    move(actor, "grant-alice", fund, alice, 50_000)
    return {"fund": fund, "alice": alice, "bob": bob, "vendor": vendor}


@pytest.fixture
def with_mfa(civilian: Any) -> Any:
    TOTP.activate(civilian, SECRET)
    return civilian


def post(client: Any, accounts: dict[str, Any], **changes: Any) -> Any:
    data = {
        "idempotency_key": "k" * 32,
        "from_account": accounts["alice"].pk,
        "payee": "",
        "account_code": accounts["bob"].code,
        "amount": "25.00",
        "memo": "rent share",
        "code": code_at(),
        **changes,
    }
    return client.post("/portfolio/", data)


def make(actor: Any, debit: Account, payee_code: str, amount_minor: int, **extra: Any) -> Any:
    """The service, as the form calls it, with the second factor already given."""
    return transfers.participant_transfer_make(
        actor=actor,
        idempotency_key=extra.pop("key", "k1"),
        debit_account_id=debit.pk,
        credit_account_code=payee_code,
        amount_minor=amount_minor,
        second_factor=lambda: True,
        **extra,
    )


def balance(account: Account) -> int:
    return Account.objects.get(pk=account.pk).posted_balance_minor


def test_anonymous_post_is_sent_to_sign_in(client: Any) -> None:
    response = client.post("/portfolio/", {"amount": "1"})
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_without_a_second_factor_the_participant_is_told_to_set_one_up(
    client: Any, civilian: Any, accounts: dict[str, Any]
) -> None:
    client.force_login(civilian)
    page = client.get("/portfolio/").content.decode()
    assert "Set up two-factor authentication" in page
    assert "/accounts/2fa/totp/activate/" in page
    assert 'id="move-money-form"' not in page
    assert post(client, accounts).status_code == 302
    assert balance(accounts["bob"]) == 0


def test_a_payment_by_account_code_posts_at_once_and_shows_on_both_sides(
    client: Any,
    with_mfa: Any,
    other_civilian: Any,
    accounts: dict[str, Any],
    django_assert_max_num_queries: Any,
) -> None:
    client.force_login(with_mfa)
    for n in range(3):  # more movements, same number of queries
        move(with_mfa, f"extra-{n}", accounts["fund"], accounts["alice"], 100)
    with django_assert_max_num_queries(10):
        page = client.get("/portfolio/").content.decode()
    assert 'id="move-money-form"' in page
    # The payee list names organisations, never another civilian (nor anyone's bank details).
    assert "Acme Repairs" in page
    assert "Bob Secretname" not in page
    response = post(client, accounts)
    assert response.status_code == 302
    assert "$25.00 was sent." in client.get("/portfolio/").content.decode()
    assert balance(accounts["alice"]) == 47_800
    assert balance(accounts["bob"]) == 2_500
    transfer = Transfer.objects.get(credit_account=accounts["bob"])
    assert transfer.created_by == with_mfa
    assert transfer.kind == TransferKind.POSTED
    assert transfer.memo == "rent share"
    client.force_login(other_civilian)
    part = client.get("/portfolio/", {"part": "balances"}).content.decode()
    assert "+$25.00" in part
    assert "rent share" in part


def test_a_double_clicked_confirmation_moves_money_once(
    client: Any, with_mfa: Any, accounts: dict[str, Any]
) -> None:
    client.force_login(with_mfa)
    first = post(client, accounts)
    # The second click carries the same form (same key, same code, already used once).
    second = post(client, accounts)
    assert (first.status_code, second.status_code) == (302, 302)
    assert Transfer.objects.filter(credit_account=accounts["bob"]).count() == 1
    assert balance(accounts["bob"]) == 2_500
    # The same form changed (a different amount under the used key) is refused.
    changed = post(client, accounts, amount="30.00", code=code_at(1))
    assert changed.status_code == 400
    assert "already used for another transfer" in changed.content.decode()
    assert balance(accounts["bob"]) == 2_500


def test_a_wrong_code_moves_nothing(client: Any, with_mfa: Any, accounts: dict[str, Any]) -> None:
    client.force_login(with_mfa)
    wrong = str((int(code_at()) + 1) % 1_000_000).zfill(6)
    response = post(client, accounts, code=wrong)
    assert response.status_code == 400
    assert "authenticator code is not right" in response.content.decode()
    assert balance(accounts["bob"]) == 0
    assert Authenticator.objects.get(user=with_mfa).last_used_at is None


def test_more_than_is_available_is_refused_with_a_clear_message(
    client: Any, with_mfa: Any, accounts: dict[str, Any], settings: Any
) -> None:
    settings.HMS_LEDGER_PARTICIPANT_APPROVAL_ABOVE_MINOR = 10_000_000
    client.force_login(with_mfa)
    response = post(client, accounts, amount="500.01")
    assert response.status_code == 400
    assert "not enough money available" in response.content.decode()
    assert balance(accounts["alice"]) == 50_000
    assert not Transfer.objects.filter(credit_account=accounts["bob"]).exists()


def test_someone_elses_account_cannot_be_debited(
    actor: Any, with_mfa: Any, accounts: dict[str, Any]
) -> None:
    with pytest.raises(transfers.TransferRefused) as refused:
        make(with_mfa, accounts["fund"], accounts["alice"].code, 100, key="steal")
    assert refused.value.code == "forbidden"
    with pytest.raises(transfers.TransferRefused) as bureau:
        make(with_mfa, accounts["alice"], accounts["fund"].code, 100, key="to-fund")
    assert bureau.value.code == "unknown_account"
    assert Transfer.objects.count() == 1


def test_text_that_cannot_be_stored_is_refused(with_mfa: Any, accounts: dict[str, Any]) -> None:
    with pytest.raises(ledger.LedgerError) as refused:
        make(with_mfa, accounts["alice"], accounts["bob"].code, 100, key="k1", memo="\ud800")
    assert refused.value.code == "invalid_text"
    assert Transfer.objects.count() == 1


def test_above_the_threshold_it_waits_for_a_second_person(
    client: Any,
    with_mfa: Any,
    supervisor: Any,
    accounts: dict[str, Any],
) -> None:
    client.force_login(with_mfa)
    response = post(client, accounts, amount="150.00")
    assert response.status_code == 302
    held = Transfer.objects.get(credit_account=accounts["bob"])
    assert held.kind == TransferKind.PENDING
    alice = Account.objects.get(pk=accounts["alice"].pk)
    assert alice.available_minor == 35_000  # reserved, not yet gone
    page = client.get("/portfolio/").content.decode()
    assert "waits for a second person" in page
    assert "Waiting for approval" in page
    case_id = transfers._case_of(held)
    assert case_id is not None
    # The maker may not approve their own transfer, even holding the authority.
    assign_perm("governance.decide_program", with_mfa, supervisor_program(supervisor))
    with pytest.raises(governance.GovernanceError):
        governance.case_decide(
            actor=with_mfa, case_id=case_id, outcome=Outcome.APPROVE, reason="mine"
        )
    governance.case_decide(actor=supervisor, case_id=case_id, outcome=Outcome.APPROVE, reason="ok")
    assert balance(accounts["bob"]) == 15_000
    assert balance(accounts["alice"]) == 35_000
    assert Transfer.objects.get(pending=held).created_by == supervisor


def supervisor_program(supervisor: Any) -> Any:
    from governance.models import Program

    return Program.objects.get(code="housing")


@pytest.mark.parametrize("outcome", [Outcome.REJECT, "recall"])
def test_a_refused_or_recalled_transfer_releases_the_money(
    with_mfa: Any, supervisor: Any, accounts: dict[str, Any], outcome: str
) -> None:
    made = make(with_mfa, accounts["alice"], accounts["vendor"].code, 20_000, key="big")
    assert made.waiting
    assert made.case_id is not None
    if outcome == "recall":
        governance.case_recall(actor=with_mfa, case_id=made.case_id)
    else:
        governance.case_decide(
            actor=supervisor, case_id=made.case_id, outcome=outcome, reason="Not this time."
        )
    void = Transfer.objects.get(pending=made.transfer)
    assert void.kind == TransferKind.VOID_PENDING
    assert Account.objects.get(pk=accounts["alice"].pk).available_minor == 50_000
    assert balance(accounts["vendor"]) == 0


def test_without_an_approving_program_large_transfers_are_refused(
    with_mfa: Any, accounts: dict[str, Any], settings: Any
) -> None:
    settings.HMS_LEDGER_PARTICIPANT_APPROVAL_PROGRAM = ""
    with pytest.raises(transfers.TransferRefused) as refused:
        make(with_mfa, accounts["alice"], accounts["bob"].code, 20_000, key="big")
    assert refused.value.code == "no_approver"
    with translation.override("es"), pytest.raises(transfers.TransferRefused) as spanish:
        make(with_mfa, accounts["alice"], accounts["bob"].code, 20_000, key="big-es")
    assert "necesitan la aprobación de una segunda persona" in spanish.value.messages[0]
    assert "$100.00" in refused.value.messages[0]
    assert Transfer.objects.count() == 1


def test_the_position_in_the_open_cycle_runs_live(
    client: Any,
    actor: Any,
    civilian: Any,
    accounts: dict[str, Any],
    django_assert_max_num_queries: Any,
) -> None:
    since = timezone.now() - timedelta(hours=1)
    closed = ledger.cycle_open(actor=actor, window_start=since, window_end=timezone.now())
    ledger.cycle_close(actor=actor, cycle_id=closed.pk)  # takes the 500.00 grant
    cycle = ledger.cycle_open_next(actor=actor)
    move(actor, "later", accounts["alice"], accounts["bob"], 1_200)
    positions = ledger_selectors.cycle_open_positions(
        account_ids=[accounts["alice"].pk, accounts["bob"].pk]
    )
    assert positions[accounts["alice"].pk].net_minor == -1_200
    assert positions[accounts["bob"].pk].net_minor == 1_200
    assert positions[accounts["bob"].pk].cycle == cycle
    client.force_login(civilian)
    with django_assert_max_num_queries(14):
        part = client.get("/portfolio/", {"part": "balances"}).content.decode()
    assert "This clearing cycle" in part
    assert "you owe $12.00 so far" in part
    move(actor, "more", accounts["fund"], accounts["alice"], 5_000)
    part = client.get("/portfolio/", {"part": "balances"}).content.decode()
    assert "the bureau owes you $38.00 so far" in part
