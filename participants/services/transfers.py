"""Participants moving their own money (the portfolio): pay another participant, or move between
their own accounts.

The ledger does the moving and the refusing (limits, currencies, closed accounts, idempotency);
governance decides the large ones. This module is the glue between them, which neither may hold
(they know nothing of participants' pages):

- `participant_transfer_make` checks that the debit account is the actor's, then writes a
  transfer that must stay within the account's posted credits (`debit_within_credits`: a payee
  account carries no limit of its own, as clearing may take it below zero). At or below
  `HMS_LEDGER_PARTICIPANT_APPROVAL_ABOVE_MINOR` it posts at once; above it, it is written as a
  pending transfer (the money is reserved) and an approval case of kind `participant_transfer`
  opens under the program `HMS_LEDGER_PARTICIPANT_APPROVAL_PROGRAM`, with the participant as
  maker, so governance never lets them approve it themselves.
- `participant_transfer_on_decision` is that subject kind's decision handler (registered in
  `ParticipantsConfig.ready()`): approve posts the pending transfer, reject, return and recall
  void it, each exactly once.

The case and its pending transfer find each other by the transfer's reference,
`transfer-case-<case id>` (no table of our own: the ledger's row is the subject).

A double-clicked confirmation moves money once: the form carries one idempotency key, requests
with the same key queue on a lock for the key, and the later ones find the transfer the first
wrote (the second factor is only asked of a request that would write).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy

from core.locks import advisory_xact_lock
from core.money import format_money
from governance import services as governance
from ledger import selectors as ledger_selectors
from ledger import services as ledger
from ledger.models import PARTICIPANT_KINDS, Account, OwnerKind, Transfer, TransferKind

from .. import selectors

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from governance.models import ApprovalCase, Decision

SUBJECT_KIND = "participant_transfer"
REFERENCE_POSTED = "participant-transfer"
REFERENCE_CASE = "transfer-case-{case}"
KEY_PREFIX = "portfolio-{user}-"

ERR_NOT_YOURS = gettext_lazy("You can only move money out of your own accounts.")
ERR_NO_PAYEE = gettext_lazy("There is no participant account with that code.")
ERR_SECOND_FACTOR = gettext_lazy(
    "The authenticator code is not right, or was already used. Try the next one."
)
ERR_NO_APPROVER = gettext_lazy(
    "Transfers above {limit} need a second person's approval, and none is set up: "
    "send at most {limit}."
)
ERR_KEY = gettext_lazy("The form has expired: reload the page and try again.")


class TransferRefused(ValidationError):
    """A participant's transfer that was not made; nothing was written."""


@dataclass(frozen=True)
class TransferOutcome:
    """What a confirmation did: the transfer (posted, or pending with its approval case), and
    whether an earlier request with the same key had already made it (a replay)."""

    transfer: Transfer
    case_id: int | None
    replayed: bool

    @property
    def waiting(self) -> bool:
        return self.transfer.kind == TransferKind.PENDING


def ledger_key(*, user: User, key: str) -> str:
    """The ledger's idempotency key for a form's key: scoped to the user, so no one can reach
    another's transfers by guessing keys."""
    return KEY_PREFIX.format(user=user.pk) + key


def _case_of(transfer: Transfer) -> int | None:
    prefix = REFERENCE_CASE.format(case="")
    if transfer.reference.startswith(prefix):
        return int(transfer.reference[len(prefix) :])
    return None


def _replay(
    found: Transfer, *, debit: Account, credit: Account, amount_minor: int
) -> TransferOutcome:
    """An earlier request's transfer under the key: the same one, or a conflict."""
    same = (
        found.debit_account_id == debit.pk
        and found.credit_account_id == credit.pk
        and found.amount_minor == amount_minor
    )
    if not same:
        raise ledger.LedgerError(
            ledger.ERR_IDEMPOTENCY.format(key=found.idempotency_key), code="idempotency_conflict"
        )
    return TransferOutcome(transfer=found, case_id=_case_of(found), replayed=True)


@transaction.atomic
def participant_transfer_make(
    *,
    actor: User,
    idempotency_key: str,
    debit_account_id: int,
    credit_account_code: str,
    amount_minor: int,
    memo: str = "",
    second_factor: Callable[[], bool],
) -> TransferOutcome:
    """Move `amount_minor` from one of the actor's accounts to a participant account (another
    participant's, or another of their own), after `second_factor()` confirms it is them.

    Posted at once up to the approval threshold; above it, pending until a second person
    approves (see the module's doc). Refused with the ledger's codes (`exceeds_credits`,
    `currency_mismatch`, `account_closed`, `same_account`, `idempotency_conflict`,
    `invalid_text`, `invalid_amount`) or this module's (`forbidden`, `unknown_account`,
    `second_factor`, `no_approver`); nothing is written when refused. A repeated request with
    the same key returns the first one's transfer without asking for the second factor again.
    """
    ledger.check_text(idempotency_key=idempotency_key, memo=memo, account=credit_account_code)
    if not idempotency_key or len(idempotency_key) > 64:
        raise TransferRefused(ERR_KEY, code="invalid_key")
    debit = ledger_selectors.account_find(account_id=debit_account_id)
    if (
        debit is None
        or debit.owner_kind != OwnerKind.CIVILIAN
        or debit.owner_ref != str(actor.pk)
        or not actor.is_active
    ):
        raise TransferRefused(ERR_NOT_YOURS, code="forbidden")
    credit = ledger_selectors.account_by_code(code=credit_account_code.strip())
    if credit is None or credit.owner_kind not in PARTICIPANT_KINDS:
        raise TransferRefused(ERR_NO_PAYEE, code="unknown_account")
    key = ledger_key(user=actor, key=idempotency_key)
    # Requests carrying one form's key queue here until the first one commits; the next then
    # finds its transfer.
    advisory_xact_lock(f"portfolio.transfer:{key}")
    found = ledger_selectors.transfer_by_key(idempotency_key=key)
    if found is not None:
        return _replay(found, debit=debit, credit=credit, amount_minor=amount_minor)
    if not second_factor():
        raise TransferRefused(ERR_SECOND_FACTOR, code="second_factor")
    threshold = selectors.approval_threshold()
    if amount_minor <= threshold:
        transfer = ledger.transfer_create(
            actor=actor,
            idempotency_key=key,
            debit_account_id=debit.pk,
            credit_account_id=credit.pk,
            amount_minor=amount_minor,
            currency=debit.currency,
            reference=REFERENCE_POSTED,
            memo=memo,
            debit_within_credits=True,
        )
        return TransferOutcome(transfer=transfer, case_id=None, replayed=False)
    program = selectors.approval_program()
    if program is None:
        raise TransferRefused(
            ERR_NO_APPROVER.format(limit=format_money(threshold, debit.currency)),
            code="no_approver",
        )
    money = format_money(amount_minor, debit.currency)
    case = governance.case_open(
        actor=actor,
        program=program,
        subject_kind=SUBJECT_KIND,
        subject_label=f"Participant transfer of {money} to {credit.code}",
        maker=actor,
        summary=(
            f"{money} from {debit.code} to {credit.code}, asked by the account holder"
            + (f": {memo}" if memo else ".")
        ),
        amount_minor=amount_minor,
        currency=debit.currency,
    )
    transfer = ledger.transfer_create(
        actor=actor,
        idempotency_key=key,
        debit_account_id=debit.pk,
        credit_account_id=credit.pk,
        amount_minor=amount_minor,
        currency=debit.currency,
        pending=True,
        reference=REFERENCE_CASE.format(case=case.pk),
        memo=memo,
        debit_within_credits=True,
    )
    return TransferOutcome(transfer=transfer, case_id=case.pk, replayed=False)


def participant_transfer_on_decision(case: ApprovalCase, decision: Decision, actor: User) -> None:
    """Governance's final outcome on a participant transfer's case (inside the decision's
    transaction): approve posts the pending transfer in full, any other outcome voids it. A
    transfer already resolved (voided by finance meanwhile) is left as it is; if the ledger
    refuses the post (the reservation expired), the decision is refused with it."""
    pending = (
        ledger_selectors.transfers_for_reference(reference=REFERENCE_CASE.format(case=case.pk))
        .filter(kind=TransferKind.PENDING)
        .first()
    )
    if pending is None or ledger_selectors.transfer_is_resolved(pending_id=pending.pk):
        return
    outcome = str(decision.outcome)
    if outcome == "approve":
        ledger.transfer_post_pending(
            actor=actor,
            idempotency_key=f"{pending.idempotency_key}:post",
            pending_id=pending.pk,
            memo=f"approved in case {case.pk}",
        )
    else:
        ledger.transfer_void_pending(
            actor=actor,
            idempotency_key=f"{pending.idempotency_key}:void",
            pending_id=pending.pk,
            memo=f"{outcome} in case {case.pk}",
        )
