"""A participant's explanation, worded in the active language from the facts a solve stored
(`solve.py`). Items are named by their titles, people only as "the holder of" an item."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _


def _quoted(titles: Mapping[int, str], item: int) -> str:
    return "“" + titles.get(item, f"#{item}") + "”"


def explanation(facts: Mapping[str, Any], titles: Mapping[int, str]) -> str:
    """The explanation of one participant's outcome. `titles` maps item numbers to titles."""
    if not facts:
        return ""
    own = _quoted(titles, facts["own"])
    cycle = list(facts.get("cycle") or [])
    higher = ", ".join(_quoted(titles, h) for h in facts.get("higher") or [])
    sentences: list[str] = []
    if cycle:
        got = _quoted(titles, cycle[1])
        parts = [_("You receive %(item)s from its holder") % {"item": got}]
        for k in range(1, len(cycle) - 1):
            parts.append(
                _("the holder of %(giver)s receives %(item)s")
                % {"giver": _quoted(titles, cycle[k]), "item": _quoted(titles, cycle[k + 1])}
            )
        parts.append(
            _("the holder of %(giver)s receives your %(own)s")
            % {"giver": _quoted(titles, cycle[-1]), "own": own}
        )
        sentences.append("; ".join(parts) + ".")
        sentences.append(_("The cycle had %(n)d members.") % {"n": len(cycle)})
    elif not facts.get("ranked"):
        sentences.append(_("You keep %(own)s: you ranked no other item.") % {"own": own})
    else:
        sentences.append(_("You keep %(own)s.") % {"own": own})
    if facts["rule"] == "ttc":
        if cycle:
            sentences.append(
                _("It formed in trading round %(round)d.") % {"round": facts["formed_in"]}
            )
        if higher:
            sentences.append(
                _(
                    "Items you ranked higher (%(items)s) went to people who ranked them higher "
                    "in cycles that formed earlier."
                )
                % {"items": higher}
            )
        return " ".join(sentences)
    values = {"cap": facts["cap"], "movers": facts["movers"], "ttc": facts["ttc_movers"]}
    sentences.append(
        _(
            "Cycles were limited to %(cap)d members: within that limit at most %(movers)d "
            "people can move, and this solution moves that many (top trading cycles, without "
            "its longer cycles, would move %(ttc)d)."
        )
        % values
    )
    if not cycle and facts.get("ranked"):
        sentences.append(
            _(
                "No solution that moves %(movers)d people could also give you an item you "
                "ranked above your own with cycles of at most %(cap)d members."
            )
            % values
        )
    elif higher:
        sentences.append(
            _(
                "Giving you an item you ranked higher (%(items)s) would have moved fewer "
                "people, or given the people who move items they ranked lower in all."
            )
            % {"items": higher}
        )
    return " ".join(sentences)
