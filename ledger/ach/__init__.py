"""NACHA ACH files: data classes, a validating reader and a deterministic writer.

Pure Python, no Django models and nothing from the other apps. PPD and CCD batches are written;
files of any SEC code are read and checked (PPD/CCD rules apply to PPD/CCD batches). Amounts are
integer cents. See docs/ledger.md, section "NACHA ACH files", for the choices made.

    file = AchFile(header=FileHeader(...), batches=[Batch(header=BatchHeader(...), entries=[...])])
    data = write_ach(file)            # bytes; raises AchWriteError with every problem
    again = read_ach(data)            # AchFile; again.errors lists every problem, with lines
    assert again.is_valid and again == resolve(file)
"""

from __future__ import annotations

from .reader import read_ach
from .records import (
    CREDITS_ONLY,
    DEBITS_ONLY,
    MAX_AMOUNT,
    MIXED,
    AchError,
    AchFile,
    AchWriteError,
    Addenda05,
    Batch,
    BatchControl,
    BatchHeader,
    EntryDetail,
    FileControl,
    FileHeader,
    OtherAddenda,
    mask_account_number,
    routing_check_digit,
    routing_number_is_valid,
)
from .validation import validate
from .writer import fit_text, resolve, transliterate, write_ach

__all__ = [
    "CREDITS_ONLY",
    "DEBITS_ONLY",
    "MAX_AMOUNT",
    "MIXED",
    "AchError",
    "AchFile",
    "AchWriteError",
    "Addenda05",
    "Batch",
    "BatchControl",
    "BatchHeader",
    "EntryDetail",
    "FileControl",
    "FileHeader",
    "OtherAddenda",
    "fit_text",
    "mask_account_number",
    "read_ach",
    "resolve",
    "routing_check_digit",
    "routing_number_is_valid",
    "transliterate",
    "validate",
    "write_ach",
]
