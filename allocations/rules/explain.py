"""Explanations a civilian can read: why this claim received this amount.

Each explanation is built from the claim's own numbers, its `Code` and the rule's facts, so it
can be rebuilt at any time from the snapshot and the result.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from math import floor
from typing import NamedTuple

from .metrics import percent
from .table import NO_CAP
from .tiebreak import describe
from .types import (
    GREEDY_BY_VOTES,
    MAX_MIN,
    PRIORITY,
    PRO_RATA,
    WEIGHTED_MAX_MIN,
    Code,
    Money,
    Outcome,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _when(micros: int) -> str:
    return (_EPOCH + timedelta(microseconds=micros)).strftime("%Y-%m-%d %H:%M UTC")


def _then(result: Outcome) -> str:
    if result.spec.tiebreak == "submitted":
        return "by claim number"
    return describe(result.spec.tiebreak, result.spec.seed)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _rounding_note(result: Outcome, money: Money) -> str:
    leftover = result.facts.get("leftover", 0)
    return (
        f" The budget did not divide into whole cents: the {leftover} minor unit"
        f"{'s' if leftover != 1 else ''} left over went one each to claims in the round's "
        f"tie-break order ({describe(result.spec.tiebreak, result.spec.seed)}), and this claim "
        f"received one of them ({money(1)})."
    )


def _lists(result: Outcome) -> dict[str, list]:
    """The columns as Python lists, made once per result (explaining a million claims reads
    them a million times)."""
    cached = result.extra.get("_lists")
    if cached is None:
        table = result.table
        cached = {
            name: getattr(table, name).tolist()
            for name in ("key", "demand", "weight", "priority", "submitted", "floor", "cap")
        }
        cached["grant"] = result.grant.tolist()
        cached["code"] = result.code.tolist()
        cached["plus"] = result.plus.tolist()
        for name in ("place", "left_at_turn", "approvals", "turn"):
            if name in result.extra:
                cached[name] = result.extra[name].tolist()
        result.extra["_lists"] = cached
    return cached


def _memo(result: Outcome, name: str, make: Callable[[], str]) -> str:
    """A sentence every claim of the result shares, made once."""
    memo = result.extra.setdefault("_memo", {})
    if name not in memo:
        memo[name] = make()
    return memo[name]


class _Said(NamedTuple):
    """One claim's facts in words, as every rule's explanation starts from them."""

    result: Outcome
    i: int
    code: Code
    claim: dict
    asked: str
    got: str
    budget: str
    money: Money


def _claim(result: Outcome, i: int) -> dict:
    lists = _lists(result)
    cap = lists["cap"][i]
    return {
        "key": lists["key"][i],
        "demand": lists["demand"][i],
        "weight": lists["weight"][i],
        "priority": lists["priority"][i],
        "submitted": lists["submitted"][i],
        "floor": lists["floor"][i],
        "cap": None if cap == NO_CAP else cap,
        "reason": result.table.reason[i] if result.table.reason else "",
    }


def explain(result: Outcome, i: int, money: Money) -> str:
    spec = result.spec
    lists = _lists(result)
    code = Code(lists["code"][i])
    claim = _claim(result, i)
    asked = money(claim["demand"])
    got = money(lists["grant"][i])
    budget = _memo(result, "budget", lambda: money(spec.budget))
    if code == Code.EXCLUDED:
        reason = claim["reason"] or "it did not meet the round's conditions"
        return (
            f"You asked {asked}. This claim was not eligible in this round ({reason}), so "
            "nothing was granted."
        )
    said = _Said(result, i, code, claim, asked, got, budget, money)
    rule = result.rule
    if rule in (MAX_MIN, WEIGHTED_MAX_MIN, PRO_RATA):
        text = _fill(said)
    elif rule == PRIORITY:
        text = _priority(said)
    else:
        text = _ballot(said)
    if lists["plus"][i]:
        text += _rounding_note(result, money)
    return text


def _within_limits(result: Outcome) -> str:
    table = result.table
    eligible = table.eligible
    capped = bool((table.upper[eligible] < table.demand[eligible]).any())
    return " (counting each claim up to the round's limit for it)" if capped else ""


def _cap_note(claim: dict, money: Money) -> str:
    if claim["cap"] is not None and claim["cap"] < claim["demand"]:
        return f" This round limits the claim to {money(claim['cap'])}."
    return ""


def _fill(said: _Said) -> str:
    result, _, code, claim, asked, got, budget, money = said
    level: Fraction | None = result.facts.get("level")
    cap = _cap_note(claim, money)
    if level is None:
        return (
            f"You asked {asked}.{cap} The budget of {budget} covered every claim in full, so you "
            f"received {got}."
        )
    rule = result.rule
    if rule == PRO_RATA:
        common = _memo(
            result,
            "common",
            lambda: (
                f"The eligible claims asked for {money(result.facts['upper_total'])} in all"
                f"{_within_limits(result)} and the budget is {budget}, so every claim received "
                f"the same share of what it asked: {percent(level)}"
            ),
        )
        if code == Code.FLOOR:
            return (
                f"You asked {asked}.{cap} {common}. For this claim that share is less than its "
                f"guaranteed minimum of {money(claim['floor'])}, so you received {got}."
            )
        if code in (Code.FULL, Code.CAPPED):
            return f"You asked {asked}.{cap} {common}. You received {got}."
        return f"You asked {asked}.{cap} {common}, which is {got} for you."
    if rule == WEIGHTED_MAX_MIN:
        unit = _memo(result, "unit", lambda: money(floor(level)))
        weight = claim["weight"]
        mine = money(floor(level * weight))
        common = (
            f"every claim was met up to {unit} for each unit of its weight, because the budget "
            f"of {budget} ran out at that level; this claim has weight {weight}, so it was met up "
            f"to {mine}"
        )
    else:
        common = _memo(
            result,
            "common",
            lambda: (
                f"every claim was met up to {money(floor(level))} because the budget of {budget} "
                "ran out at that level"
            ),
        )
    # With a cap, its sentence comes first and the level starts a new sentence.
    lead = f"You asked {asked}.{cap}" if cap else f"You asked {asked};"
    body = common[:1].upper() + common[1:] if cap else common
    if code == Code.FLOOR:
        return (
            f"{lead} {body}, but this claim has a guaranteed minimum of "
            f"{money(claim['floor'])}, so you received {got}."
        )
    if code == Code.FULL:
        return f"You asked {asked} and received it in full: {common}, which covers what you asked."
    if code == Code.CAPPED:
        return f"{lead} {body}, which covers that limit, so you received {got}."
    return f"{lead} {body}. You received {got}."


def _priority(said: _Said) -> str:
    result, i, code, claim, asked, got, budget, money = said
    mode = result.facts["params"]["on_shortfall"]
    place = _lists(result)["place"][i]
    count = result.facts["eligible"]
    left = money(_lists(result)["left_at_turn"][i])
    order = _memo(
        result,
        "order",
        lambda: (
            "Claims were paid in full one after another: by priority class (lower first), then "
            f"by submission time, then {_then(result)}, until the budget of {budget} ran out"
        ),
    )
    yours = (
        f"Yours (priority class {claim['priority']}, submitted {_when(claim['submitted'])}) was "
        f"{_ordinal(place)} of {count}"
    )
    cap = _cap_note(claim, money)
    floor_note = (
        f" It still received its guaranteed minimum of {money(claim['floor'])}."
        if claim["floor"]
        else ""
    )
    if code in (Code.FULL, Code.CAPPED):
        return f"You asked {asked}.{cap} {order}. {yours}, and was paid in full: {got}."
    if code == Code.PARTIAL:
        return (
            f"You asked {asked}.{cap} {order}. {yours}; when its turn came only {left} was left, "
            f"and it received that: {got}."
        )
    if code == Code.NOT_REACHED:
        return (
            f"You asked {asked}.{cap} {order}. {yours}: the budget was used up before its "
            f"turn.{floor_note}"
        )
    after = (
        " Smaller claims after it could still be paid."
        if mode == "skip"
        else " The round stops at the first claim that does not fit."
    )
    return (
        f"You asked {asked}.{cap} {order}. {yours}; when its turn came {left} was left, less than "
        f"it needed, so it was passed over.{after}{floor_note}"
    )


def _ballot(said: _Said) -> str:
    result, i, code, _, asked, got, budget, money = said
    approvals = _lists(result)["approvals"][i]
    voters = result.facts["voters"]
    if code == Code.NO_SUPPORT:
        return f"Not funded: none of the {voters} voters approved this project (cost {asked})."
    if result.rule == GREEDY_BY_VOTES:
        left = money(_lists(result)["left_at_turn"][i])
        order = (
            f"Projects were funded in order of approvals, each if it still fitted the budget of "
            f"{budget}; this one had {approvals} approval{'s' if approvals != 1 else ''}"
        )
        if code == Code.FUNDED:
            return f"Funded in full: {got}. {order}, and {left} was left when its turn came."
        return f"Not funded (cost {asked}). {order}, and only {left} was left when its turn came."
    facts = result.facts
    share = facts["share"]
    division = (
        f"The budget of {budget} was divided equally among the {voters} voters"
        f" ({money(floor(share))} each"
    )
    if facts["raises"]:
        division += (
            f", after the completion raised each share {facts['raises']} time"
            f"{'s' if facts['raises'] != 1 else ''} by {money(facts['step'])} while the chosen "
            "projects still fitted the budget"
        )
    division += ")."
    if code == Code.FUNDED:
        turn = _lists(result)["turn"][i]
        rho = result.extra["rho"][i]
        return (
            f"Funded in full: {got}. {division} Projects were chosen one at a time, each time the "
            "one its supporters could pay for with the smallest payment per unit of cost. This "
            f"project was chosen {_ordinal(turn)}: its {approvals} supporter"
            f"{'s' if approvals != 1 else ''} paid at most {money(floor(rho))}"
            f"{' (and a fraction of a cent)' if rho != floor(rho) else ''} each."
        )
    remaining: Fraction = result.extra["left"][i] or Fraction(0)
    return (
        f"Not funded (cost {asked}). {division} After the projects chosen before it, its "
        f"{approvals} supporter{'s' if approvals != 1 else ''} had {money(floor(remaining))} "
        "left of their shares together, less than its cost."
    )
