"""A rule's result: one grant per claim, why, and the facts the explanations quote."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from .explain import explain
from .types import Money, Outcome, plain_money
from .waterfill import isum


@dataclass(eq=False)
class Result(Outcome):
    """A rule's result: its grants, codes, facts and extras (`Outcome`), with what is derived
    from them."""

    @property
    def total(self) -> int:
        return isum(self.grant)

    @property
    def unspent(self) -> int:
        return self.spec.budget - self.total

    def explain(self, i: int, money: Money = plain_money) -> str:
        """The explanation of row `i`'s grant, in plain words."""
        return explain(self, i, money)

    def explanations(self, money: Money = plain_money) -> list[str]:
        return [explain(self, i, money) for i in range(len(self.table))]

    def grants_by_key(self) -> dict[int, int]:
        return dict(zip(self.table.key.tolist(), self.grant.tolist(), strict=True))

    def digest(self) -> str:
        """SHA-256 of the grants as canonical JSON: `[[key, grant], ...]` by key, no spaces."""
        order = np.argsort(self.table.key, kind="stable")
        keys = self.table.key[order].tolist()
        grants = self.grant[order].tolist()
        text = "[" + ",".join(f"[{k},{g}]" for k, g in zip(keys, grants, strict=True)) + "]"
        return hashlib.sha256(text.encode("ascii")).hexdigest()
