"""Allocation rounds: one service per transition, each one transaction with the acting user.

draft → open → frozen → computed → under approval → approved → committed, or cancelled.

- Opening gathers the fund's waiting claims that no other round holds; while a round holds a
  claim, nothing else grants it (see `services.claims_grant_waiting`).
- Freezing serialises every input (claims by number and their terms, ballots, budget, rule,
  tie-break and seed) to canonical JSON and stores its SHA-256 (`rules.snapshot`).
- Computing reads only that snapshot: anyone holding it can recompute the same grants.
- Sending for approval opens a governance case (subject kind "allocation_round"); the decision
  reaches `round_on_decision`.
- Committing an approved round posts one pending ledger transfer per grant, through the
  ledger's batch path, in one transaction: all or nothing. A second commit writes nothing, and
  a fund whose available amount no longer covers the round (money spent meanwhile) refuses it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.utils import timezone
from django_fsm import can_proceed
from simple_history.utils import bulk_update_with_history

from core.audit import record_history
from core.money import format_money
from governance import services as governance
from integrations.models import EventType
from integrations.services.webhooks import emit
from ledger import services as ledger

from . import hooks, rules
from .models import (
    COMMIT_ROUND_PERMISSION,
    RUN_ROUND_PERMISSION,
    AllocationGrant,
    AllocationRound,
    Claim,
    ClaimStatus,
    Fund,
    RoundSnapshot,
    RoundState,
)
from .rules import snapshot as frozen
from .rules.equal_shares import ERR_NO_FLOORS
from .rules.waterfill import ERR_FLOORS
from .services import AllocationError, fund_available_minor

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from governance.models import ApprovalCase, Decision

SUBJECT_KIND = "allocation_round"
GRANT_BATCH = 2_000

ERR_FORBIDDEN = "Only finance officers may {action} allocation rounds."
ERR_STATE = "Round “{name}” is {state}; it cannot be {action}. Nothing was changed."
ERR_BUDGET = (
    "The budget of {budget} is more than the fund's available {available}. Lower the budget."
)
ERR_BUDGET_NEGATIVE = "The budget must be zero or more."
ERR_COMMIT_OVER = (
    "The fund now has {available} available; the round needs {needed}. Money was spent from "
    "the fund since the round was approved, so nothing was committed: make a new round."
)
ERR_NO_BALLOTS_RULE = "Ballots are cast only in participatory rounds (equal shares, approvals)."
ERR_NO_BALLOTS = "No ballots were cast: a participatory round cannot be frozen without them."
ERR_VOTER = "A ballot needs a voter reference."
ERR_TERMS_STATE = "Claim {reference} is frozen in round “{round}”: its terms can no longer change."
ERR_TERMS_STATUS = "Claim {reference} is {status}: its terms no longer matter to any round."
ERR_WEIGHT = "The weight is a whole number of at least 1."
ERR_PRIORITY = "The priority class is a whole number, 0 or more (lower classes are served first)."
ERR_FLOOR = "The guaranteed minimum must be between 0 and the {asked} asked."
ERR_CAP = (
    "The cap must be more than 0, at least the guaranteed minimum ({floor}) and at most the "
    "{asked} asked."
)
ERR_REASON_REQUIRED = "Give the reason the claim is not eligible (it is published with the round)."
ERR_REASON_ELIGIBLE = "Leave the reason empty for an eligible claim."
ERR_REASON_LONG = "Keep the reason under {limit} characters."
ERR_SNAPSHOT_TAMPERED = (
    "The stored snapshot of round “{name}” does not match its input hash: it was changed after "
    "freezing. Nothing was computed."
)
ERR_RULE = "{message}"

Progress = Callable[[int, int, str], None]


class RoundError(AllocationError):
    """A refused change to an allocation round; nothing was written."""


# --- helpers -----------------------------------------------------------------------------------


def _require(actor: User, permission: str, action: str) -> None:
    if not actor.is_active or not actor.has_perm(permission):
        raise RoundError(ERR_FORBIDDEN.format(action=action), code="forbidden")


def _lock(round_id: int) -> AllocationRound:
    # Lock the round: two officers acting on it at once act one after the other, and the
    # second finds the state the first left.
    return (
        AllocationRound.objects.select_for_update(of=("self",))
        .select_related("fund")
        .get(pk=round_id)
    )


def _step(round_: AllocationRound, transition: str, action: str) -> None:
    method = getattr(round_, transition)
    if not can_proceed(method):
        raise RoundError(
            ERR_STATE.format(
                name=round_.name, state=round_.get_state_display().lower(), action=action
            ),
            code="state",
        )
    method()


def _save(round_: AllocationRound, *, actor: User, reason: str) -> None:
    round_.full_clean(exclude=["state"])  # the protected FSM field refuses re-assignment
    record_history(round_, actor=actor, reason=reason[:100])
    round_.save()


def _money(round_: AllocationRound) -> Callable[[int], str]:
    return partial(format_money, currency=round_.currency)


def round_progress_set(round_id: int, done: int, total: int, note: str) -> None:
    """Record computation progress for the finance officer's page (a display, not a state:
    written outside any lock and without history, so the page sees it while the task runs)."""
    AllocationRound.objects.filter(pk=round_id).update(
        progress_done=done, progress_total=total, progress_note=note[:200]
    )


def _release(round_: AllocationRound, claims: Iterable[Claim], *, actor: User, reason: str) -> None:
    """Let the round's claims go (they wait for another round)."""
    released = []
    for claim in claims:
        claim.round = None
        released.append(claim)
    if released:
        bulk_update_with_history(
            released,
            Claim,
            ["round"],
            batch_size=GRANT_BATCH,
            default_user=actor,
            default_change_reason=reason[:100],
        )


# --- draft and open ----------------------------------------------------------------------------


def round_validate_budget(*, fund: Fund, budget_minor: int) -> None:
    """The budget is at most what the fund can still grant (read from the ledger)."""
    if budget_minor < 0:
        raise RoundError(ERR_BUDGET_NEGATIVE, code="budget")
    available = fund_available_minor(fund=fund)
    if budget_minor > available:
        raise RoundError(
            ERR_BUDGET.format(
                budget=format_money(budget_minor, fund.currency),
                available=format_money(available, fund.currency),
            ),
            code="budget",
        )


def round_validate_rule(*, rule: str, params: dict[str, Any] | None, tiebreak: str) -> dict:
    """The rule's full parameters (defaults filled in), or a refusal naming what is wrong."""
    try:
        merged = rules.params_for(rule, params)
        rules.RoundSpec(budget=0, rule=rule, params=merged, tiebreak=tiebreak)
    except rules.RuleError as refused:
        raise RoundError(str(refused), code="rule") from None
    return merged


@transaction.atomic
def round_create(
    *,
    actor: User,
    fund: Fund,
    name: str,
    budget_minor: int,
    rule: str,
    params: dict[str, Any] | None = None,
    tiebreak: str = "submitted",
    tiebreak_seed: str = "",
) -> AllocationRound:
    """A draft round on `fund` (finance officers). The budget may not exceed what the fund can
    still grant; the rule and tie-break are fixed now, before any claim is gathered."""
    _require(actor, RUN_ROUND_PERMISSION, "create")
    merged = round_validate_rule(rule=rule, params=params, tiebreak=tiebreak)
    round_validate_budget(fund=fund, budget_minor=budget_minor)
    round_ = AllocationRound(
        fund=fund,
        name=name,
        budget_minor=budget_minor,
        currency=fund.currency,
        rule=rule,
        params=merged,
        tiebreak=tiebreak,
        tiebreak_seed=tiebreak_seed,
        created_by=actor,
    )
    _save(round_, actor=actor, reason="round created")
    return round_


def _gather(round_: AllocationRound, *, actor: User) -> int:
    # Lock the waiting claims: a concurrent grant or another round's gathering waits, then
    # finds them held (skip_locked would silently leave some out).
    waiting = list(
        Claim.objects.select_for_update(of=("self",))
        .filter(fund=round_.fund, status=ClaimStatus.AWAITING_FUNDS, round__isnull=True)
        .order_by("pk")
    )
    for claim in waiting:
        claim.round = round_
    if waiting:
        bulk_update_with_history(
            waiting,
            Claim,
            ["round"],
            batch_size=GRANT_BATCH,
            default_user=actor,
            default_change_reason=f"gathered by round {round_.pk}",
        )
    return len(waiting)


@transaction.atomic
def round_open(*, actor: User, round_id: int) -> AllocationRound:
    """Open the round and gather the fund's waiting claims that no other round holds."""
    _require(actor, RUN_ROUND_PERMISSION, "open")
    round_ = _lock(round_id)
    _step(round_, "open", "opened")
    _save(round_, actor=actor, reason="opened")
    _gather(round_, actor=actor)
    return round_


@transaction.atomic
def round_gather(*, actor: User, round_id: int) -> int:
    """While the round is open, gather claims that started waiting since it opened."""
    _require(actor, RUN_ROUND_PERMISSION, "gather claims for")
    round_ = _lock(round_id)
    if round_.state != RoundState.OPEN:
        raise RoundError(
            ERR_STATE.format(
                name=round_.name, state=round_.get_state_display().lower(), action="gathered"
            ),
            code="state",
        )
    return _gather(round_, actor=actor)


def claim_validate_editable(*, claim: Claim) -> None:
    """A claim's terms change only while it waits for funds and its round (if any) is open."""
    if claim.status != ClaimStatus.AWAITING_FUNDS:
        raise RoundError(
            ERR_TERMS_STATUS.format(
                reference=claim.reference, status=claim.get_status_display().lower()
            ),
            code="state",
        )
    if claim.round is not None and claim.round.state != RoundState.OPEN:
        raise RoundError(
            ERR_TERMS_STATE.format(reference=claim.reference, round=claim.round.name),
            code="state",
        )


def claim_validate_terms(
    *,
    claim: Claim,
    weight: int,
    priority: int,
    floor_minor: int,
    cap_minor: int | None,
    eligible: bool,
    exclusion_reason: str,
) -> None:
    """The terms a round may read for `claim`: weight at least 1, priority class 0 or more,
    0 ≤ floor ≤ cap ≤ amount asked, and a (public) reason exactly when the claim is excluded.
    Refusals are keyed by field, so the admin form shows each beside its input."""
    money = partial(format_money, currency=claim.currency)
    errors: dict[str, str] = {}
    if weight < 1:
        errors["weight"] = ERR_WEIGHT
    if priority < 0:
        errors["priority"] = ERR_PRIORITY
    if not 0 <= floor_minor <= claim.amount_minor:
        errors["floor_minor"] = ERR_FLOOR.format(asked=money(claim.amount_minor))
    if cap_minor is not None and not (
        cap_minor > 0 and floor_minor <= cap_minor <= claim.amount_minor
    ):
        errors["cap_minor"] = ERR_CAP.format(
            floor=money(floor_minor), asked=money(claim.amount_minor)
        )
    limit = Claim._meta.get_field("exclusion_reason").max_length or 200
    if not eligible and not exclusion_reason:
        errors["exclusion_reason"] = ERR_REASON_REQUIRED
    elif eligible and exclusion_reason:
        errors["exclusion_reason"] = ERR_REASON_ELIGIBLE
    elif len(exclusion_reason) > limit:
        errors["exclusion_reason"] = ERR_REASON_LONG.format(limit=limit)
    if errors:
        raise RoundError(errors)


@transaction.atomic
def claim_set_terms(
    *,
    actor: User,
    claim_id: int,
    weight: int | None = None,
    priority: int | None = None,
    floor_minor: int | None = None,
    cap_minor: int | bool | None = False,
    eligible: bool | None = None,
    exclusion_reason: str | None = None,
) -> Claim:
    """Set the terms a round reads for a claim (finance officers), while it waits for funds and
    until its round freezes. `cap_minor=None` removes the cap; leaving it out keeps it."""
    _require(actor, RUN_ROUND_PERMISSION, "set claim terms for")
    # Lock the claim: two officers editing it at once save one after the other, and a round
    # freezing meanwhile either reads the first's terms or refuses the second's.
    claim = Claim.objects.select_for_update(of=("self",)).select_related("round").get(pk=claim_id)
    claim_validate_editable(claim=claim)
    if weight is not None:
        claim.weight = weight
    if priority is not None:
        claim.priority = priority
    if floor_minor is not None:
        claim.floor_minor = floor_minor
    if cap_minor is not False:
        claim.cap_minor = cap_minor  # type: ignore[assignment]
    if eligible is not None:
        claim.eligible = eligible
    if exclusion_reason is not None:
        claim.exclusion_reason = exclusion_reason.strip()
    if eligible and exclusion_reason is None:
        claim.exclusion_reason = ""
    claim_validate_terms(
        claim=claim,
        weight=claim.weight,
        priority=claim.priority,
        floor_minor=claim.floor_minor,
        cap_minor=claim.cap_minor,
        eligible=claim.eligible,
        exclusion_reason=claim.exclusion_reason,
    )
    claim.full_clean()
    record_history(claim, actor=actor, reason="terms set")
    claim.save()
    return claim


# --- freeze and compute ------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _table(round_: AllocationRound) -> rules.ClaimTable:
    # Only claims still waiting: one cancelled since it was gathered takes no part.
    rows = list(
        round_.claims.filter(status=ClaimStatus.AWAITING_FUNDS)
        .order_by("pk")
        .values_list(
            "pk",
            "amount_minor",
            "weight",
            "priority",
            "created_at",
            "floor_minor",
            "cap_minor",
            "eligible",
            "exclusion_reason",
        )
    )
    return rules.ClaimTable.build(
        [r[0] for r in rows],
        [r[1] for r in rows],
        weight=[r[2] for r in rows],
        priority=[r[3] for r in rows],
        submitted=[_micros(r[4]) for r in rows],
        floor=[r[5] for r in rows],
        cap=[rules.NO_CAP if r[6] is None else r[6] for r in rows],
        eligible=[r[7] for r in rows],
        reason=[r[8] for r in rows],
    )


@transaction.atomic
def round_freeze(*, actor: User, round_id: int) -> AllocationRound:
    """Freeze the inputs: canonical JSON of every claim's terms and every ballot, the budget,
    rule, parameters, tie-break and seed; its SHA-256 is the round's input hash. A random
    tie-break without a seed gets one drawn now, after which nobody can choose it."""
    _require(actor, RUN_ROUND_PERMISSION, "freeze")
    round_ = _lock(round_id)
    _step(round_, "freeze", "frozen")
    round_validate_budget(fund=round_.fund, budget_minor=round_.budget_minor)
    if round_.tiebreak == "random" and not round_.tiebreak_seed:
        round_.tiebreak_seed = secrets.token_hex(16)
    try:
        table = _table(round_)
    except rules.RuleError as refused:
        raise RoundError(str(refused), code="rule") from None
    ballots: list[list[int]] = []
    if round_.uses_ballots:
        in_round = set(table.key.tolist())
        ballots = [
            [k for k in b if k in in_round]
            for b in round_.ballots.values_list("approvals", flat=True)
        ]
        if not ballots:
            raise RoundError(ERR_NO_BALLOTS, code="ballots")
    info = {
        "id": round_.pk,
        "name": round_.name,
        "fund": round_.fund.code,
        "currency": round_.currency,
        "budget": round_.budget_minor,
        "rule": round_.rule,
        "params": round_.params,
        "tiebreak": round_.tiebreak,
        "seed": round_.tiebreak_seed,
    }
    data = frozen.build(info, table, ballots)
    # Refuse now what computing would refuse (floors above the budget, a rule that cannot run).
    try:
        loaded = frozen.load(data)
        _check_feasible(loaded)
    except rules.RuleError as refused:
        raise RoundError(str(refused), code="rule") from None
    digest = frozen.sha256(data)
    RoundSnapshot.objects.create(
        round=round_, data=data.decode("utf-8"), sha256=digest, claims=len(table)
    )
    round_.input_sha256 = digest
    round_.frozen_at = timezone.now()
    _save(round_, actor=actor, reason=f"frozen {digest[:12]}")
    return round_


def _check_feasible(loaded: frozen.Snapshot) -> None:
    table, spec = loaded.table, loaded.spec
    eligible = table.eligible
    floors = int(sum(table.floor[eligible].tolist()))
    if floors > spec.budget:
        raise rules.RuleError(ERR_FLOORS.format(floors=floors, budget=spec.budget))
    if spec.rule in rules.BALLOT_RULES and (
        floors or bool((table.upper[eligible] < table.demand[eligible]).any())
    ):
        raise rules.RuleError(ERR_NO_FLOORS)


class Computation:
    """Everything computing a round yields, built from the snapshot alone (outside any lock)."""

    def __init__(self, data: bytes, currency: str, progress: Progress | None = None) -> None:
        report = progress or (lambda done, total, note: None)
        loaded = frozen.load(data)
        total = len(loaded.table)
        report(0, total, "allocating")
        self.result = rules.allocate(loaded.table, loaded.spec, loaded.ballots)
        report(0, total, "comparing with the other rules")
        self.comparison = rules.compare(loaded.table, loaded.spec, loaded.ballots)
        report(0, total, "writing explanations")
        money = partial(format_money, currency=currency)
        self.explanations = self.result.explanations(money)
        self.metrics = rules.metrics(loaded.table, self.result.grant, loaded.spec.budget)
        self.snapshot = loaded


def round_recompute(*, round_: AllocationRound) -> rules.Result:
    """Recompute a frozen round from its stored snapshot (read-only: for checks and the
    public page's "recompute" figures)."""
    data = RoundSnapshot.objects.get(round=round_).data.encode("utf-8")
    loaded = frozen.load(data)
    return rules.allocate(loaded.table, loaded.spec, loaded.ballots)


def _metrics_json(computation: Computation) -> dict[str, Any]:
    others: dict[str, Any] = {}
    for rule, outcome in computation.comparison.items():
        others[rule] = {"error": outcome} if isinstance(outcome, str) else outcome.as_json()
    return {"result": computation.metrics.as_json(), "rules": others}


def round_compute(
    *, actor: User, round_id: int, progress: Progress | None = None
) -> AllocationRound:
    """Compute the grants of a frozen round from its snapshot alone, with an explanation for
    each, and the metrics of this and the other rules on the same snapshot.

    The computation runs outside any lock (it reads only the immutable snapshot and can take a
    while on a large round); the grants are then written under the round's lock. Idempotent:
    a round already computed (or further) is returned unchanged, so a retried task is safe.
    """
    _require(actor, RUN_ROUND_PERMISSION, "compute")
    round_ = AllocationRound.objects.select_related("fund").get(pk=round_id)
    if round_.state in (
        RoundState.COMPUTED,
        RoundState.UNDER_APPROVAL,
        RoundState.APPROVED,
        RoundState.COMMITTED,
    ):
        return round_
    if round_.state != RoundState.FROZEN:
        raise RoundError(
            ERR_STATE.format(
                name=round_.name, state=round_.get_state_display().lower(), action="computed"
            ),
            code="state",
        )
    report = progress or (lambda done, total, note: None)
    report(0, 0, "reading the snapshot")
    stored = RoundSnapshot.objects.get(round=round_)
    data = stored.data.encode("utf-8")
    if frozen.sha256(data) != round_.input_sha256 or stored.sha256 != round_.input_sha256:
        raise RoundError(ERR_SNAPSHOT_TAMPERED.format(name=round_.name), code="tampered")
    try:
        computation = Computation(data, round_.currency, progress)
    except rules.RuleError as refused:
        raise RoundError(str(refused), code="rule") from None
    return _store(actor=actor, round_id=round_id, computation=computation, progress=report)


@transaction.atomic
def _store(
    *, actor: User, round_id: int, computation: Computation, progress: Progress
) -> AllocationRound:
    round_ = _lock(round_id)
    if round_.state != RoundState.FROZEN:  # computed meanwhile by someone else: theirs stands
        return round_
    result = computation.result
    table = result.table
    keys = table.key.tolist()
    order = sorted(range(len(keys)), key=keys.__getitem__)
    grants = result.grant.tolist()
    codes = result.code.tolist()
    demand = table.demand.tolist()
    total = len(order)
    batch: list[AllocationGrant] = []
    for line, i in enumerate(order, start=1):
        batch.append(
            AllocationGrant(
                round=round_,
                claim_id=keys[i],
                line=line,
                asked_minor=demand[i],
                granted_minor=grants[i],
                code=codes[i],
                explanation=computation.explanations[i],
            )
        )
        if len(batch) == GRANT_BATCH:
            AllocationGrant.objects.bulk_create(batch)
            batch = []
            progress(line, total, "storing grants")
    if batch:
        AllocationGrant.objects.bulk_create(batch)
    _step(round_, "compute", "computed")
    round_.granted_minor = result.total
    round_.result_sha256 = result.digest()
    round_.metrics = _metrics_json(computation)
    round_.computed_at = timezone.now()
    round_.progress_done, round_.progress_total, round_.progress_note = total, total, "done"
    _save(round_, actor=actor, reason=f"computed {round_.result_sha256[:12]}")
    return round_


# --- approval ----------------------------------------------------------------------------------


@transaction.atomic
def round_send_for_approval(*, actor: User, round_id: int) -> AllocationRound:
    """Put the computed round before the program's supervisors (maker-checker): the officer who
    sends it is its maker and may not approve it."""
    _require(actor, RUN_ROUND_PERMISSION, "send for approval")
    round_ = _lock(round_id)
    _step(round_, "send_for_approval", "sent for approval")
    money = _money(round_)
    paid = round_.grants.filter(granted_minor__gt=0).count()
    summary = (
        f"{rules.LABELS[round_.rule]} of {money(round_.budget_minor)} from {round_.fund.name}: "
        f"{money(round_.granted_minor)} granted to {paid} "
        f"of {round_.grants.count()} claims. Input hash {round_.input_sha256}."
    )
    round_.approval_case = governance.case_open(
        actor=actor,
        program=round_.fund.program,
        subject_kind=SUBJECT_KIND,
        subject_label=f"Allocation round: {round_.name}",
        maker=actor,
        summary=summary,
        amount_minor=round_.granted_minor,
        currency=round_.currency,
    )
    _save(round_, actor=actor, reason="sent for approval")
    return round_


def round_on_decision(case: ApprovalCase, decision: Decision, actor: User) -> None:
    """Governance's final decision on a round's case (runs inside the decision's transaction).

    approve → approved; reject → cancelled (its claims wait for another round); any other
    outcome (a return, a recall) → back to computed, to be sent again. A round no longer under
    approval (changed meanwhile) is left as it is.
    """
    round_ = (
        AllocationRound.objects.select_for_update(of=("self",))
        .select_related("fund")
        .get(approval_case=case)
    )
    if round_.state != RoundState.UNDER_APPROVAL:
        return
    outcome = str(decision.outcome)
    if outcome == "approve":
        round_.approve()
        _save(round_, actor=actor, reason="approved")
    elif outcome == "reject":
        round_.cancel()
        _save(round_, actor=actor, reason=f"rejected: {decision.reason}")
        _release(
            round_,
            Claim.objects.select_for_update(of=("self",)).filter(round=round_),
            actor=actor,
            reason="round rejected",
        )
    else:
        round_.return_to_computed()
        _save(round_, actor=actor, reason=f"{outcome}: {decision.reason}")


# --- commit and cancel -------------------------------------------------------------------------


_HISTORY_FIELDS = ("history_id", "history_date", "history_change_reason", "history_type")


def _decide_claims_sql() -> str:
    """One statement that writes the commit's decision on every claim of the round and a history
    row for each, built from the models' metadata (so it follows their fields):

    - granted: the claim takes its grant's amount and explanation and its transfer as its
      obligation (the ledger returns the transfers in the order of the specs: two arrays);
    - every other claim of the round (a zero grant, or no longer awaiting funds) leaves the
      round to wait for another, a waiting one with its grant's explanation;
    - the history rows are the updated rows themselves (`RETURNING`), with the acting user.

    Parameters: status granted, claim ids, obligation ids, round id, status awaiting funds,
    round id, round id, claim ids, then (history date, reason, user id) twice.
    """
    claims, grants = Claim._meta.db_table, AllocationGrant._meta.db_table
    history = Claim.history.model  # type: ignore[attr-defined]
    tracked = [
        f.column
        for f in history._meta.concrete_fields
        if f.name not in _HISTORY_FIELDS and f.name != "history_user"
    ]
    columns = ", ".join(tracked)
    return (
        f"WITH granted AS (UPDATE {claims} AS c SET status = %s,"  # noqa: S608
        " granted_minor = g.granted_minor, obligation_id = p.obligation_id,"
        " explanation = g.explanation"
        f" FROM unnest(%s::bigint[], %s::bigint[]) AS p(claim_id, obligation_id), {grants} AS g"
        " WHERE c.id = p.claim_id AND g.round_id = %s AND g.claim_id = p.claim_id"
        f" RETURNING c.*), released AS (UPDATE {claims} AS c SET round_id = NULL,"
        " explanation = CASE WHEN c.status = %s THEN g.explanation ELSE c.explanation END"
        f" FROM {grants} AS g WHERE g.round_id = %s AND g.claim_id = c.id AND c.round_id = %s"
        " AND NOT (c.id = ANY(%s::bigint[])) RETURNING c.*)"
        f" INSERT INTO {history._meta.db_table} ({columns}, history_date,"
        " history_change_reason, history_type, history_user_id)"
        f" SELECT {columns}, %s, %s, '~', %s FROM granted"
        f" UNION ALL SELECT {columns}, %s, %s, '~', %s FROM released"
    )


def _decide_claims(
    round_: AllocationRound,
    obligation_of: dict[int, int],
    history: tuple[datetime, str, int],
    actor: User,
) -> None:
    """What `_decide_claims_sql` does, through the ORM, for databases without data-modifying
    `WITH` (SQLite: the embedded default): the paid claims granted with their obligation, the
    round's other claims released, a history row each."""
    grants = {g.claim_id: g for g in AllocationGrant.objects.filter(round=round_)}
    changed = []
    for claim in Claim.objects.filter(pk__in=list(grants)).order_by("pk"):
        grant = grants[claim.pk]
        if claim.pk in obligation_of:
            claim.status = ClaimStatus.GRANTED
            claim.granted_minor = grant.granted_minor
            claim.obligation_id = obligation_of[claim.pk]
            claim.explanation = grant.explanation
        elif claim.round_id == round_.pk:
            if claim.status == ClaimStatus.AWAITING_FUNDS:
                claim.explanation = grant.explanation
            claim.round_id = None
        else:
            continue
        changed.append(claim)
    when, reason, _user_id = history
    bulk_update_with_history(
        changed,
        Claim,
        ["status", "granted_minor", "obligation", "explanation", "round"],
        default_user=actor,
        default_change_reason=reason,
        default_date=when,
    )


@transaction.atomic
def round_commit(*, actor: User, round_id: int) -> AllocationRound:
    """Commit an approved round: one pending ledger transfer (an obligation) per positive grant,
    from the fund to the claim's payee, in one transaction through the ledger's batch path.

    Guarantees: no commit without approval; a second commit returns the committed round and
    writes nothing; if the fund's available amount no longer covers the grants (a spend since
    approval), the commit is refused and nothing is written (the ledger's own limit check, made
    under its locks, is the final word). Claims with a zero grant, or no longer awaiting funds,
    are released to wait for another round.

    The claims are decided, and their history rows written, in one set-based statement
    (`_decide_claims_sql`): per-row ORM updates took longer than the ledger's own work on a
    100,000-grant round (see docs/performance.md).
    """
    _require(actor, COMMIT_ROUND_PERMISSION, "commit")
    round_ = _lock(round_id)
    if round_.state == RoundState.COMMITTED:
        return round_
    _step(round_, "commit", "committed")
    fund = round_.fund
    money = _money(round_)
    # Lock the round's claims: a concurrent cancellation of a request waits for the commit.
    claims = {
        pk: (status, payee, reference)
        for pk, status, payee, reference in Claim.objects.select_for_update(of=("self",))
        .filter(round=round_)
        .order_by("pk")
        .values_list("pk", "status", "payee_account_id", "reference")
    }
    paying = [
        (claim_id, granted)
        for claim_id, granted in round_.grants.filter(granted_minor__gt=0)
        .order_by("line")
        .values_list("claim_id", "granted_minor")
        if claim_id in claims and claims[claim_id][0] == ClaimStatus.AWAITING_FUNDS
    ]
    needed = sum(granted for _, granted in paying)
    available = fund_available_minor(fund=fund)
    if needed > available:
        raise RoundError(
            ERR_COMMIT_OVER.format(available=money(available), needed=money(needed)),
            code="exceeds_available",
        )
    specs = [
        ledger.TransferSpec(
            idempotency_key=_obligation_key(round_, claim_id),
            debit_account_id=fund.account_id,
            credit_account_id=claims[claim_id][1],
            amount_minor=granted,
            currency=round_.currency,
            pending=True,
            reference=claims[claim_id][2],
            memo=f"allocation round {round_.pk}",
        )
        for claim_id, granted in paying
    ]
    try:
        obligations: list[int] = []
        for start in range(0, len(specs), ledger.MAX_BATCH):
            written = ledger.transfers_create(
                actor=actor, specs=specs[start : start + ledger.MAX_BATCH]
            )
            obligations += [transfer.pk for transfer in written]
    except ledger.LedgerError as refused:
        if refused.code == "exceeds_credits":
            raise RoundError(
                ERR_COMMIT_OVER.format(
                    available=money(fund_available_minor(fund=fund)), needed=money(needed)
                ),
                code="exceeds_available",
            ) from None
        raise
    paid_ids = [claim_id for claim_id, _ in paying]
    history = (timezone.now(), f"committed by round {round_.pk}", actor.pk)
    if connection.vendor != "postgresql":
        _decide_claims(round_, dict(zip(paid_ids, obligations, strict=True)), history, actor)
    else:
        with connection.cursor() as cursor:
            cursor.execute(
                _decide_claims_sql(),
                [
                    ClaimStatus.GRANTED.value,
                    paid_ids,
                    obligations,
                    round_.pk,
                    ClaimStatus.AWAITING_FUNDS.value,
                    round_.pk,
                    round_.pk,
                    paid_ids,
                    *history,
                    *history,
                ],
            )
    round_.committed_at = timezone.now()
    _save(round_, actor=actor, reason="committed")
    hooks.claims_granted(claim_ids=paid_ids, actor=actor)
    emit(
        EventType.ROUND_COMMITTED,
        {
            "round": round_.pk,
            "fund": fund.code,
            "rule": round_.rule,
            "budget_minor": round_.budget_minor,
            "granted_minor": needed,
            "currency": round_.currency,
            "grants": len(paying),
            "input_sha256": round_.input_sha256,
        },
    )
    return round_


def _obligation_key(round_: AllocationRound, claim_id: int | str) -> str:
    return f"round-{round_.pk}-claim-{claim_id}"


@transaction.atomic
def round_cancel(*, actor: User, round_id: int, reason: str = "") -> AllocationRound:
    """Cancel a round that is not under approval nor committed; its claims are released to wait
    for another round. The snapshot and any computed grants stay, for the record."""
    _require(actor, RUN_ROUND_PERMISSION, "cancel")
    round_ = _lock(round_id)
    if round_.state == RoundState.UNDER_APPROVAL:
        raise RoundError(
            ERR_STATE.format(
                name=round_.name, state=round_.get_state_display().lower(), action="cancelled"
            ),
            code="state",
        )
    _step(round_, "cancel", "cancelled")
    _save(round_, actor=actor, reason=f"cancelled: {reason}" if reason else "cancelled")
    _release(
        round_,
        Claim.objects.select_for_update(of=("self",)).filter(round=round_),
        actor=actor,
        reason="round cancelled",
    )
    return round_
