"""The ledger's admin: the books (read-only) and clearing (bank details, cycles, positions)."""

from . import books, clearing

__all__ = ["books", "clearing"]
