"""The frozen input of a round as canonical JSON, and back.

Canonical form: UTF-8 JSON with keys sorted, no whitespace (`separators=(",", ":")`), no
floats; claims as columns sorted by claim number; each ballot as its sorted claim numbers and
the ballots sorted. The SHA-256 of these bytes is the round's input hash: anyone holding the
bytes can check the hash, load them with `load`, and recompute the result with
`engine.allocate`.

    {"ballots": [[3, 7], ...],
     "claims": {"cap": [null, 50000, ...], "demand": [...], "eligible": [true, ...],
                "floor": [...], "key": [...], "priority": [...], "reason": ["", ...],
                "submitted": [...], "weight": [...]},
     "format": "hms-allocation-round/1",
     "round": {"budget": 4000000, "currency": "USD", "params": {}, "rule": "max_min",
               "seed": "", "tiebreak": "submitted", ...}}

The snapshot is published with a committed round, so it holds no personal data: claims are
known by number only, ballots are anonymous.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .table import NO_CAP, Ballots, ClaimTable, RoundSpec, RuleError

FORMAT = "hms-allocation-round/1"
ERR_FORMAT = "This is not a round snapshot in the format " + FORMAT + "."


def canonical_json(data: Any) -> bytes:
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build(
    round_info: Mapping[str, Any],
    table: ClaimTable,
    ballots: Iterable[Iterable[int]] = (),
) -> bytes:
    """The canonical bytes of a round's inputs. `round_info` holds at least budget, rule,
    params, tiebreak and seed (plus any descriptive whole-number or text fields)."""
    order = np.argsort(table.key, kind="stable")
    cap = table.cap[order].tolist()
    columns = {
        "key": table.key[order].tolist(),
        "demand": table.demand[order].tolist(),
        "weight": table.weight[order].tolist(),
        "priority": table.priority[order].tolist(),
        "submitted": table.submitted[order].tolist(),
        "floor": table.floor[order].tolist(),
        "cap": [None if c == NO_CAP else c for c in cap],
        "eligible": table.eligible[order].tolist(),
        "reason": [table.reason[i] for i in order.tolist()] if table.reason else [""] * len(table),
    }
    data = {
        "format": FORMAT,
        "round": dict(round_info),
        "claims": columns,
        "ballots": sorted(sorted({int(k) for k in ballot}) for ballot in ballots),
    }
    return canonical_json(data)


@dataclass(frozen=True, eq=False)
class Snapshot:
    round: dict[str, Any]
    table: ClaimTable
    spec: RoundSpec
    ballots: Ballots | None
    ballot_keys: list[list[int]]


def load(data: bytes) -> Snapshot:
    """Parse and check a snapshot (raises `RuleError` on anything malformed)."""
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RuleError(ERR_FORMAT) from error
    if not isinstance(parsed, dict) or parsed.get("format") != FORMAT:
        raise RuleError(ERR_FORMAT)
    info, columns = parsed["round"], parsed["claims"]
    table = ClaimTable.build(
        columns["key"],
        columns["demand"],
        weight=columns["weight"],
        priority=columns["priority"],
        submitted=columns["submitted"],
        floor=columns["floor"],
        cap=[NO_CAP if c is None else c for c in columns["cap"]],
        eligible=columns["eligible"],
        reason=columns["reason"],
    )
    spec = RoundSpec(
        budget=info["budget"],
        rule=info["rule"],
        params=info.get("params") or {},
        tiebreak=info.get("tiebreak", "submitted"),
        seed=info.get("seed", ""),
    )
    ballot_keys = parsed.get("ballots") or []
    ballots = Ballots.from_keys(table, ballot_keys) if ballot_keys else None
    return Snapshot(info, table, spec, ballots, ballot_keys)
