"""The frozen input of an exchange round as canonical JSON, and back (no Django).

Participants are known by their item's number only. Index i is the i-th item by number; item i
belongs to participant i, and `prefs[i]` lists, best first, the indices of the items participant
i would accept instead of their own:

    {"format": "hms-exchange-round/1",
     "round": {"id": 4, "rule": "ttc", "max_cycle": 3, "seed": 0, "currency": "USD",
               "kind": "home", "previous": ""},
     "items": [11, 12, 15],
     "prefs": [[1], [2, 0], [0]]}

`previous` is the hash of the snapshot this one re-solves part of (after a withdrawal), or "".
The bytes use `allocations.rules.snapshot.canonical_json`; their SHA-256 is the input hash.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from allocations.rules.snapshot import canonical_json, sha256

FORMAT = "hms-exchange-round/1"
ERR_FORMAT = "This is not an exchange snapshot in the format " + FORMAT + "."

__all__ = ["FORMAT", "Snapshot", "build", "load", "sha256"]


@dataclass(frozen=True)
class Snapshot:
    round: dict[str, Any]
    items: list[int]
    prefs: list[list[int]]


def build(
    round_info: Mapping[str, Any], rankings: Mapping[int, Sequence[int]], items: Sequence[int]
) -> bytes:
    """The canonical bytes: `items` (item numbers; sorted here), `rankings[item]` the item
    numbers its holder ranks, best first (items outside `items` are left out)."""
    ordered = sorted(items)
    index = {item: i for i, item in enumerate(ordered)}
    prefs = [[index[r] for r in rankings.get(item, ()) if r in index] for item in ordered]
    return canonical_json(
        {"format": FORMAT, "round": dict(round_info), "items": ordered, "prefs": prefs}
    )


def load(data: bytes) -> Snapshot:
    """Parse a snapshot (raises `ValueError` on anything malformed)."""
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(ERR_FORMAT) from error
    if not isinstance(parsed, dict) or parsed.get("format") != FORMAT:
        raise ValueError(ERR_FORMAT)
    items, prefs = parsed.get("items"), parsed.get("prefs")
    if not isinstance(items, list) or not isinstance(prefs, list) or len(items) != len(prefs):
        raise ValueError(ERR_FORMAT)
    return Snapshot(dict(parsed["round"]), [int(i) for i in items], [list(p) for p in prefs])
