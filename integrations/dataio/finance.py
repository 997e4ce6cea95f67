"""Participants with their bank details, and opening ledger balances.

Participants are ledger accounts of civilians, vendors and agencies (the bureau owes them:
liability accounts), keyed by account code and opened through `ledger.services.account_open`;
their bank details go through `ledger.services.bank_account_save`, which checks the routing
number's check digit. An account number is never shown in full: exports carry the masked form
(`****6789`), and a masked number in an import means "keep the one on file".

An opening balance is one posted ledger transfer between the account and the bureau's equity
account `OPENING-BALANCE-<currency>`, under the idempotency key `opening-balance:<key>`: a
re-run returns the transfer already written, and the same key with another amount is refused.
Balances are never written directly: the ledger's totals move with its postings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import ValidationError

from ledger import services as ledger
from ledger.models import (
    PARTICIPANT_KINDS,
    Account,
    AccountType,
    BankAccount,
    BankAccountType,
    HolderKind,
    OwnerKind,
    Transfer,
)

from .base import CREATED, UNCHANGED, UPDATED, Kind, Plan, RowCheck

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from .tables import Row

MASK_PREFIX = "****"
OPENING_KEY_PREFIX = "opening-balance:"
OPENING_OWNER_REF = "opening-balance"
SIDES = ("credit", "debit")

ERR_OWNER_KIND = "{value} is not a participant kind: use one of {choices}."
ERR_ACCOUNT_DIFFERENT = (
    "Account {code} is already open with a different {columns}: ledger accounts are not changed "
    "by an import."
)
ERR_OWNER_TAKEN = "Account {other} already belongs to {kind} {ref} in {currency}."
ERR_BANK_INCOMPLETE = (
    "Bank details need holder_name, holder_kind, routing_number and account_number."
)
ERR_MASKED_NEW = (
    "A masked account number keeps the one on file, and {code} has none: give it in full."
)
ERR_NO_ACCOUNT = "No ledger account has the code {value}."
ERR_ACCOUNT_CLOSED = "Account {value} is closed."
ERR_OPENING_ACCOUNT = "Opening balances are posted against {value}, not to it."
ERR_ACCOUNT_CURRENCY = "Account {code} is in {account_currency}, not {currency}."
ERR_KEY_USED = "Key {key} was already used for a different opening balance ({existing})."
ERR_KEY_LENGTH = "At most {limit} characters."

_BANK_COLUMNS = ("holder_name", "holder_kind", "routing_number", "account_number")


def opening_account(*, actor: User, currency: str) -> Account:
    """The bureau's equity account that opening balances are posted against."""
    return ledger.account_open(
        actor=actor,
        code=f"OPENING-BALANCE-{currency}",
        name=f"Opening balances ({currency})",
        type=AccountType.EQUITY,
        currency=currency,
        owner_kind=OwnerKind.BUREAU,
        owner_ref=OPENING_OWNER_REF,
    )


class Participants(Kind):
    name = "participants"
    label = "Participants and bank details"
    key_column = "account_code"
    required: ClassVar[tuple[str, ...]] = ("account_code", "name", "owner_kind", "owner_ref")
    optional: ClassVar[tuple[str, ...]] = (
        "currency",
        "holder_name",
        "holder_kind",
        "routing_number",
        "account_number",
        "account_type",
        "identification",
    )

    def prepare(self, rows: Sequence[Row]) -> None:
        codes = {r.cells.get("account_code", "").strip() for r in rows}
        refs = {r.cells.get("owner_ref", "").strip() for r in rows}
        self.accounts = {
            a.code: a for a in Account.objects.filter(code__in=codes).select_related("bank_account")
        }
        self.owners = {
            (a.owner_kind, a.owner_ref, a.currency): a.code
            for a in Account.objects.filter(owner_ref__in=refs - {""})
        }

    def check(self, check: RowCheck) -> Plan | None:
        code = check.text("account_code", required=True, limit=64)
        values: dict[str, Any] = {
            "name": check.text("name", required=True, limit=200),
            "owner_kind": check.choice("owner_kind", [str(k) for k in PARTICIPANT_KINDS]),
            "owner_ref": check.text("owner_ref", required=True, limit=64),
            "currency": check.currency("currency", default="USD"),
        }
        bank = self._bank(check, code)
        if check.problems:
            return None
        account = self.accounts.get(code)
        owner = (values["owner_kind"], values["owner_ref"], values["currency"])
        other = self.owners.get(owner)
        if other is not None and other != code:
            check.add(
                "owner_ref",
                ERR_OWNER_TAKEN.format(other=other, kind=owner[0], ref=owner[1], currency=owner[2]),
            )
            return None
        outcome = CREATED
        if account is not None:
            differ = [
                column
                for column in ("owner_kind", "owner_ref", "currency")
                if getattr(account, column) != values[column]
            ]
            if account.type != AccountType.LIABILITY:
                differ.append("type")
            if differ:
                check.add(
                    differ[0],
                    ERR_ACCOUNT_DIFFERENT.format(code=code, columns=", ".join(differ)),
                )
                return None
            outcome = UNCHANGED
            if bank is not None and self._bank_differs(account, bank):
                outcome = UPDATED
        return Plan(line=check.row.line, key=code, outcome=outcome, values={**values, "bank": bank})

    def _bank(self, check: RowCheck, code: str) -> dict[str, str] | None:
        """The row's bank details, checked with the ledger's own rules, or None if it has none."""
        given = {c: check.raw(c) for c in (*_BANK_COLUMNS, "account_type", "identification")}
        if not any(given[c] for c in _BANK_COLUMNS):
            return None
        before = len(check.problems)
        for column in _BANK_COLUMNS:
            if not given[column]:
                check.add(column, ERR_BANK_INCOMPLETE)
        if len(check.problems) > before:
            return None
        details = {
            "holder_name": given["holder_name"],
            "holder_kind": check.choice("holder_kind", HolderKind.values),
            "routing_number": given["routing_number"],
            "account_number": given["account_number"],
            "account_type": check.choice(
                "account_type", BankAccountType.values, default=BankAccountType.CHECKING
            ),
            "identification": given["identification"],
        }
        number = details["account_number"]
        stored = getattr(self.accounts.get(code), "bank_account", None)
        if number.startswith(MASK_PREFIX):
            if stored is None:
                check.add("account_number", ERR_MASKED_NEW.format(code=code))
                return None
            number = stored.account_number
            details["account_number"] = ""
        candidate = BankAccount(
            holder_name=details["holder_name"],
            holder_kind=details["holder_kind"],
            routing_number=details["routing_number"],
            account_number=number,
            account_type=details["account_type"],
            identification=details["identification"],
        )
        try:
            # The model's own rules: the routing number's check digit, the account number's
            # form. Their messages name the rule, never the account number itself.
            candidate.full_clean(
                exclude=["account"], validate_unique=False, validate_constraints=False
            )
        except ValidationError as error:
            check.validation_error(error, columns={})
        return details

    @staticmethod
    def _bank_differs(account: Account, bank: dict[str, str]) -> bool:
        stored = getattr(account, "bank_account", None)
        if stored is None:
            return True
        if bank["account_number"] and bank["account_number"] != stored.account_number:
            return True
        return any(
            getattr(stored, name) != bank[name]
            for name in (
                "holder_name",
                "holder_kind",
                "routing_number",
                "account_type",
                "identification",
            )
        )

    def write(self, plan: Plan, *, actor: User, source: str) -> None:
        if plan.outcome == UNCHANGED:
            return
        values = plan.values
        account = ledger.account_open(
            actor=actor,
            code=plan.key,
            name=values["name"],
            type=AccountType.LIABILITY,
            currency=values["currency"],
            owner_kind=values["owner_kind"],
            owner_ref=values["owner_ref"],
        )
        bank = values["bank"]
        if bank is not None:
            ledger.bank_account_save(actor=actor, account_id=account.pk, **bank)

    def export(self) -> list[list[str]]:
        found = Account.objects.filter(owner_kind__in=PARTICIPANT_KINDS).select_related(
            "bank_account"
        )
        rows = []
        for account in found.order_by("code"):
            bank = getattr(account, "bank_account", None)
            details = (
                [
                    bank.holder_name,
                    bank.holder_kind,
                    bank.routing_number,
                    bank.account_number_masked,
                    bank.account_type,
                    bank.identification,
                ]
                if bank
                else ["", "", "", "", "", ""]
            )
            rows.append(
                [
                    account.code,
                    account.name,
                    account.owner_kind,
                    account.owner_ref,
                    account.currency,
                    *details,
                ]
            )
        return rows


class OpeningBalances(Kind):
    name = "opening_balances"
    label = "Opening ledger balances"
    key_column = "key"
    write_column = "amount_minor"
    required: ClassVar[tuple[str, ...]] = ("key", "account_code", "amount_minor")
    optional: ClassVar[tuple[str, ...]] = ("side", "currency", "memo")

    def prepare(self, rows: Sequence[Row]) -> None:
        codes = {r.cells.get("account_code", "").strip() for r in rows}
        keys = {OPENING_KEY_PREFIX + r.cells.get("key", "").strip() for r in rows}
        self.accounts = {a.code: a for a in Account.objects.filter(code__in=codes)}
        self.equity: dict[str, Account] = {}  # the opening-balance account per currency
        self.existing = {
            t.idempotency_key: t
            for t in Transfer.objects.filter(idempotency_key__in=keys).select_related(
                "debit_account", "credit_account"
            )
        }

    def check(self, check: RowCheck) -> Plan | None:
        key = check.text("key", required=True, limit=128 - len(OPENING_KEY_PREFIX))
        code = check.text("account_code", required=True)
        account = self.accounts.get(code)
        if code and account is None:
            check.add("account_code", ERR_NO_ACCOUNT.format(value=code))
        elif account is not None and account.closed:
            check.add("account_code", ERR_ACCOUNT_CLOSED.format(value=code))
        elif account is not None and account.owner_ref == OPENING_OWNER_REF:
            check.add("account_code", ERR_OPENING_ACCOUNT.format(value=code))
        amount = check.integer("amount_minor", required=True, positive=True)
        if amount is not None and amount >= ledger.MAX_AMOUNT_MINOR:
            check.add("amount_minor", ledger.ERR_AMOUNT)
        side = check.choice("side", SIDES, default="credit")
        currency = check.currency("currency", default=account.currency if account else "USD")
        if account is not None and currency and currency != account.currency:
            check.add(
                "currency",
                ERR_ACCOUNT_CURRENCY.format(
                    code=code, account_currency=account.currency, currency=currency
                ),
            )
        memo = check.text("memo", limit=255)
        if check.problems or account is None or amount is None:
            return None
        values = {
            "account": account,
            "amount_minor": amount,
            "side": side,
            "currency": currency,
            "memo": memo,
        }
        existing = self.existing.get(OPENING_KEY_PREFIX + key)
        if existing is None:
            return Plan(line=check.row.line, key=key, outcome=CREATED, values=values)
        stored_side = "credit" if existing.credit_account_id == account.pk else "debit"
        same = (
            account.pk in (existing.credit_account_id, existing.debit_account_id)
            and existing.amount_minor == amount
            and stored_side == side
            and existing.currency == currency
            and existing.memo == memo
        )
        if not same:
            check.add(
                "key",
                ERR_KEY_USED.format(key=key, existing=_describe(existing)),
            )
            return None
        return Plan(line=check.row.line, key=key, outcome=UNCHANGED, values=values)

    def write(self, plan: Plan, *, actor: User, source: str) -> None:
        if plan.outcome == UNCHANGED:
            return
        values = plan.values
        account: Account = values["account"]
        currency = values["currency"]
        if currency not in self.equity:
            self.equity[currency] = opening_account(actor=actor, currency=currency)
        equity = self.equity[currency]
        debit, credit = (equity, account) if values["side"] == "credit" else (account, equity)
        ledger.transfer_create(
            actor=actor,
            idempotency_key=OPENING_KEY_PREFIX + plan.key,
            debit_account_id=debit.pk,
            credit_account_id=credit.pk,
            amount_minor=values["amount_minor"],
            currency=values["currency"],
            reference=OPENING_KEY_PREFIX + plan.key,
            memo=values["memo"],
        )

    def export(self) -> list[list[str]]:
        found = Transfer.objects.filter(
            idempotency_key__startswith=OPENING_KEY_PREFIX
        ).select_related("debit_account", "credit_account")
        rows = []
        for transfer in found.order_by("sequence"):
            credit = transfer.debit_account.owner_ref == OPENING_OWNER_REF
            account = transfer.credit_account if credit else transfer.debit_account
            rows.append(
                [
                    transfer.idempotency_key.removeprefix(OPENING_KEY_PREFIX),
                    account.code,
                    str(transfer.amount_minor),
                    "credit" if credit else "debit",
                    transfer.currency,
                    transfer.memo,
                ]
            )
        return rows


def _describe(transfer: Transfer) -> str:
    return (
        f"{transfer.amount_minor} {transfer.currency} from {transfer.debit_account.code} "
        f"to {transfer.credit_account.code}"
    )
