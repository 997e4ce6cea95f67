"""Allocation rounds: one service per transition, each one transaction with the acting user.

draft → open → frozen → computed → under approval → approved → committed, or cancelled.

- Opening gathers the fund's waiting claims that no other round holds; while a round holds a
  claim, nothing else grants it (see `claims_grant_waiting`).
- Freezing serialises every input (claims by number and their terms, ballots, budget, rule,
  tie-break and seed) to canonical JSON and stores its SHA-256 (`rules.snapshot`).
- Computing reads only that snapshot: anyone holding it can recompute the same grants.
- Sending for approval opens a governance case (subject kind "allocation_round"); the decision
  reaches `round_on_decision`.
- Committing an approved round is `commit.round_commit`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from core.money import format_money
from core.services.queue import task_enqueue
from governance import services as governance

from .. import rules
from ..models import (
    RUN_ROUND_PERMISSION,
    AllocationGrant,
    AllocationRound,
    Claim,
    ClaimStatus,
    Fund,
    RoundSnapshot,
    RoundState,
)
from ..rules import snapshot as frozen
from ..rules.equal_shares import ERR_NO_FLOORS
from ..rules.waterfill import ERR_FLOORS
from ..selectors import fund_available_minor
from .common import (
    GRANT_BATCH,
    claims_release,
    require,
    round_locked,
    round_money,
    round_save,
    round_step,
    state_refused,
)
from .errors import RoundError

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from governance.models import ApprovalCase, Decision

SUBJECT_KIND = "allocation_round"

ERR_BUDGET = (
    "The budget of {budget} is more than the fund's available {available}. Lower the budget."
)
ERR_BUDGET_NEGATIVE = "The budget must be zero or more."
ERR_NO_BALLOTS = "No ballots were cast: a participatory round cannot be frozen without them."
ERR_SNAPSHOT_TAMPERED = (
    "The stored snapshot of round “{name}” does not match its input hash: it was changed after "
    "freezing. Nothing was computed."
)

Progress = Callable[[int, int, str], None]


def round_progress_set(*, round_id: int, done: int, total: int, note: str) -> None:
    """Record computation progress for the finance officer's page (a display, not a state:
    written outside any lock and without history, so the page sees it while the task runs)."""
    AllocationRound.objects.filter(pk=round_id).update(
        progress_done=done, progress_total=total, progress_note=note[:200]
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
    require(actor, RUN_ROUND_PERMISSION, "create")
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
    round_save(round_, actor=actor, reason="round created")
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
    require(actor, RUN_ROUND_PERMISSION, "open")
    round_ = round_locked(round_id)
    round_step(round_, "open", "opened")
    round_save(round_, actor=actor, reason="opened")
    _gather(round_, actor=actor)
    return round_


@transaction.atomic
def round_gather(*, actor: User, round_id: int) -> int:
    """While the round is open, gather claims that started waiting since it opened."""
    require(actor, RUN_ROUND_PERMISSION, "gather claims for")
    round_ = round_locked(round_id)
    if round_.state != RoundState.OPEN:
        raise state_refused(round_, "gathered")
    return _gather(round_, actor=actor)


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
    require(actor, RUN_ROUND_PERMISSION, "freeze")
    round_ = round_locked(round_id)
    round_step(round_, "freeze", "frozen")
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
    round_save(round_, actor=actor, reason=f"frozen {digest[:12]}")
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


def _metrics_json(computation: Computation) -> dict[str, Any]:
    others: dict[str, Any] = {}
    for rule, outcome in computation.comparison.items():
        others[rule] = {"error": outcome} if isinstance(outcome, str) else outcome.as_json()
    return {"result": computation.metrics.as_json(), "rules": others}


# The task that computes a large round (`allocations.tasks`, which imports these services).
COMPUTE_TASK = "allocations.tasks.compute_round"


@transaction.atomic
def round_compute_request(*, actor: User, round_id: int) -> AllocationRound:
    """Queue the computation of a frozen round (finance officers; the admin does for large
    rounds). The progress reads "queued" and the task is kept with this transaction
    (`core.services.queue`): a broker that is away delays it and loses nothing."""
    require(actor, RUN_ROUND_PERMISSION, "compute")
    round_ = AllocationRound.objects.get(pk=round_id)
    if round_.state != RoundState.FROZEN:
        raise state_refused(round_, "computed")
    round_progress_set(round_id=round_.pk, done=0, total=0, note="queued")
    task_enqueue(name=COMPUTE_TASK, args=[round_.pk, actor.pk])
    return round_


def round_compute(
    *, actor: User, round_id: int, progress: Progress | None = None
) -> AllocationRound:
    """Compute the grants of a frozen round from its snapshot alone, with an explanation for
    each, and the metrics of this and the other rules on the same snapshot.

    The computation runs outside any lock (it reads only the immutable snapshot and can take a
    while on a large round); the grants are then written under the round's lock. Idempotent:
    a round already computed (or further) is returned unchanged, so a retried task is safe.
    """
    require(actor, RUN_ROUND_PERMISSION, "compute")
    round_ = AllocationRound.objects.select_related("fund").get(pk=round_id)
    if round_.state in (
        RoundState.COMPUTED,
        RoundState.UNDER_APPROVAL,
        RoundState.APPROVED,
        RoundState.COMMITTED,
    ):
        return round_
    if round_.state != RoundState.FROZEN:
        raise state_refused(round_, "computed")
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
    round_ = round_locked(round_id)
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
    round_step(round_, "compute", "computed")
    round_.granted_minor = result.total
    round_.result_sha256 = result.digest()
    round_.metrics = _metrics_json(computation)
    round_.computed_at = timezone.now()
    round_.progress_done, round_.progress_total, round_.progress_note = total, total, "done"
    round_save(round_, actor=actor, reason=f"computed {round_.result_sha256[:12]}")
    return round_


# --- approval ----------------------------------------------------------------------------------


@transaction.atomic
def round_send_for_approval(*, actor: User, round_id: int) -> AllocationRound:
    """Put the computed round before the program's supervisors (maker-checker): the officer who
    sends it is its maker and may not approve it."""
    require(actor, RUN_ROUND_PERMISSION, "send for approval")
    round_ = round_locked(round_id)
    round_step(round_, "send_for_approval", "sent for approval")
    money = round_money(round_)
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
    round_save(round_, actor=actor, reason="sent for approval")
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
        round_save(round_, actor=actor, reason="approved")
    elif outcome == "reject":
        round_.cancel()
        round_save(round_, actor=actor, reason=f"rejected: {decision.reason}")
        claims_release(
            Claim.objects.select_for_update(of=("self",)).filter(round=round_),
            actor=actor,
            reason="round rejected",
        )
    else:
        round_.return_to_computed()
        round_save(round_, actor=actor, reason=f"{outcome}: {decision.reason}")


@transaction.atomic
def round_cancel(*, actor: User, round_id: int, reason: str = "") -> AllocationRound:
    """Cancel a round that is not under approval nor committed; its claims are released to wait
    for another round. The snapshot and any computed grants stay, for the record."""
    require(actor, RUN_ROUND_PERMISSION, "cancel")
    round_ = round_locked(round_id)
    if round_.state == RoundState.UNDER_APPROVAL:
        raise state_refused(round_, "cancelled")
    round_step(round_, "cancel", "cancelled")
    round_save(round_, actor=actor, reason=f"cancelled: {reason}" if reason else "cancelled")
    claims_release(
        Claim.objects.select_for_update(of=("self",)).filter(round=round_),
        actor=actor,
        reason="round cancelled",
    )
    return round_
