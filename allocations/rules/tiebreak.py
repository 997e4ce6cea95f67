"""Tie-breaks: which claim comes first when a rule cannot tell two claims apart.

A round names its tie-break before the claims are frozen:

- `submitted`: the claim submitted earlier comes first, then the lower claim number;
- `key`: the lower claim number comes first;
- `random`: a seed published with the round orders the claims. Each claim's place is
  `mix64(key XOR seed64)`, smaller first (then the lower claim number), where `seed64` is the
  first 8 bytes (big-endian) of SHA-256 of the seed in UTF-8, and `mix64` is the SplitMix64
  finaliser on 64-bit words:

      z = x + 0x9E3779B97F4A7C15
      z = (z XOR (z >> 30)) * 0xBF58476D1CE4E5B9
      z = (z XOR (z >> 27)) * 0x94D049BB133111EB
      z = z XOR (z >> 31)            (every step modulo 2**64)

  so anyone can recompute the order from the seed and the claim numbers.

The order depends only on the claims' own data, never on their position in the input, which
is what makes every rule's result independent of input order.
"""

from __future__ import annotations

import hashlib

import numpy as np

_M64 = (1 << 64) - 1


def seed64(seed: str) -> int:
    return int.from_bytes(hashlib.sha256(seed.encode("utf-8")).digest()[:8], "big")


def mix64(x: int) -> int:
    """SplitMix64's finaliser on one 64-bit word (the documented, pure-Python form)."""
    z = (x + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def mix64_array(keys: np.ndarray, seed: str) -> np.ndarray:
    """`mix64(key XOR seed64)` for every key (numpy's uint64 arithmetic wraps modulo 2**64)."""
    z = keys.astype(np.uint64) ^ np.uint64(seed64(seed))
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def tie_columns(
    tiebreak: str, key: np.ndarray, submitted: np.ndarray, seed: str
) -> list[np.ndarray]:
    """The sort columns of the tie-break, most significant first; the last is the unique key."""
    if tiebreak == "submitted":
        return [submitted, key]
    if tiebreak == "random":
        return [mix64_array(key, seed), key]
    return [key]


def describe(tiebreak: str, seed: str = "") -> str:
    """The tie-break in words, for explanations."""
    if tiebreak == "submitted":
        return "earliest submitted first"
    if tiebreak == "random":
        return f"a random order drawn from the published seed “{seed}”"
    return "lowest claim number first"


def order(columns: list[np.ndarray]) -> np.ndarray:
    """Positions sorted by the columns (first column most significant)."""
    return np.lexsort(tuple(reversed(columns)))


def first(count: int, columns: list[np.ndarray], among: np.ndarray) -> np.ndarray:
    """The `count` rows of `among` that come first by `columns` (most significant first; the
    last column must be unique), in no particular order. Linear time on average: a partition
    on each column, looking at the next column only for rows tied at the boundary."""
    if count <= 0:
        return among[:0]
    if count >= among.shape[0]:
        return among
    values = columns[0][among]
    if values.dtype == object:  # exact big integers: a plain sort (only on very large amounts)
        ranked = sorted(range(among.shape[0]), key=lambda i: [c[among[i]] for c in columns])
        return among[np.asarray(ranked[:count], dtype=np.int64)]
    kth = np.partition(values, count - 1)[count - 1]
    before = among[values < kth]
    tied = among[values == kth]
    need = count - before.shape[0]
    if len(columns) == 1 or tied.shape[0] == need:
        return np.concatenate((before, tied[:need]))
    return np.concatenate((before, first(need, columns[1:], tied)))
