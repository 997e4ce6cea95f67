"""`write_ach(file) -> bytes`: a NACHA file, deterministic, refusing anything it cannot write.

Choices, documented in docs/ledger.md:

- Records are joined by "\\n" with no newline after the last one, as in the golden samples, so a
  valid sample read and written back gives its own bytes (upper-cased).
- Text is upper-case printable ASCII. Other characters are transliterated deterministically:
  Unicode NFKD, combining marks dropped (É to E), a fixed table for letters NFKD keeps (ß to SS,
  Ø to O, Æ to AE, typographic quotes and dashes to ' " -); a character still outside printable
  ASCII (control characters, CJK, emoji) is refused, never guessed or dropped. A value too long
  for its field after transliteration is refused, never truncated (`fit_text` truncates on
  purpose, for names).
- Derived fields left as None are filled in: service class code (200 mixed, 220 credits only,
  225 debits only), batch number (position in the file), trace number (the ODFI's 8 digits and a
  7-digit sequence following the previous entry's), addenda indicator and addenda sequence
  numbers. Batch and file controls are always computed from the entries; controls on the input
  are ignored (a read file's message authentication code is kept).
- The result is checked with `validate` before a byte is produced; every problem is raised at
  once in `AchWriteError.errors`.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from datetime import date, time
from typing import Any, TypeVar

from .records import (
    ERR_NOT_ASCII_TEXT,
    ERR_NOT_NUMERIC,
    ERR_OTHER_ADDENDA_WRITE,
    ERR_SEC_CODE,
    ERR_TOO_LONG,
    FIELD_FORMAT,
    FIELD_TOO_LONG,
    NON_ASCII,
    PADDING_RECORD,
    RECORD_LENGTH,
    SEC_CODE,
    SEC_CODES,
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
    _digits,
)
from .validation import (
    block_count,
    derived_service_class,
    entry_addenda_count,
    entry_hash,
    record_count,
    totals,
    validate,
)

# Letters and marks that NFKD leaves alone, mapped to their usual ASCII spelling.
_TRANSLITERATIONS = {
    "ß": "SS",
    "ẞ": "SS",
    "Æ": "AE",
    "æ": "AE",
    "Œ": "OE",
    "œ": "OE",
    "Ø": "O",
    "ø": "O",
    "Ł": "L",
    "ł": "L",
    "Đ": "D",
    "đ": "D",
    "Ð": "D",
    "ð": "D",
    "Þ": "TH",
    "þ": "TH",
    "\u0131": "I",  # dotless i
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
}


_Record = TypeVar("_Record", FileHeader, BatchHeader, EntryDetail, Addenda05)


def _printable(char: str) -> bool:
    return " " <= char <= "~"


def transliterate(value: str) -> str:
    """Upper-case printable ASCII for `value`; characters with no ASCII form are kept as they are.

    Callers check the result with `_printable`; `fit_text` and the writer refuse what is left.
    """
    decomposed = unicodedata.normalize("NFKD", value)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(_TRANSLITERATIONS.get(c, c) for c in kept).upper()


def fit_text(value: str, width: int) -> str:
    """Transliterate, upper-case and cut `value` to `width` characters (for names and notes).

    Raises ValueError for a character with no ASCII transliteration.
    """
    text = transliterate(value)
    for char in text:
        if not _printable(char):
            raise ValueError(ERR_NOT_ASCII_TEXT.format(field="Text", char=char))
    return text[:width].rstrip()


class _Renderer:
    """Formats fields into fixed-width records, collecting every problem instead of raising."""

    def __init__(self) -> None:
        self.errors: list[AchError] = []

    def alpha(self, value: str, width: int, name: str, *, right: bool = False) -> str:
        """Alphanumeric: upper-case ASCII, left-justified (or right), blank-filled."""
        text = transliterate(value)
        bad = next((c for c in text if not _printable(c)), None)
        if bad is not None:
            msg = ERR_NOT_ASCII_TEXT.format(field=name, char=bad)
            self.errors.append(AchError(NON_ASCII, msg))
            return " " * width
        if len(text) > width:
            msg = ERR_TOO_LONG.format(field=name, length=len(text), width=width)
            self.errors.append(AchError(FIELD_TOO_LONG, msg))
            return " " * width
        return text.rjust(width) if right else text.ljust(width)

    def number(self, value: int, width: int, name: str) -> str:
        """Numeric: right-justified, zero-filled."""
        text = str(value)
        if type(value) is not int or value < 0 or len(text) > width:
            msg = ERR_NOT_NUMERIC.format(field=name, width=width, value=text)
            self.errors.append(AchError(FIELD_TOO_LONG, msg))
            return "0" * width
        return text.zfill(width)

    def digits(self, value: str, width: int, name: str) -> str:
        """A digit string that must already have its width (routing, trace, ODFI)."""
        if not _digits(value, width):
            msg = ERR_NOT_NUMERIC.format(field=name, width=width, value=value)
            self.errors.append(AchError(FIELD_FORMAT, msg))
            return "0" * width
        return value

    def day(self, value: date | None, name: str) -> str:
        """YYMMDD, for years 2000-2099."""
        if value is None or not 2000 <= value.year <= 2099:
            msg = ERR_NOT_NUMERIC.format(field=name, width=6, value=str(value))
            self.errors.append(AchError(FIELD_FORMAT, msg))
            return "0" * 6
        return value.strftime("%y%m%d")

    def file_header(self, h: FileHeader) -> str:
        return "".join(
            [
                "101",
                self.alpha(h.immediate_destination, 10, "Immediate destination", right=True),
                self.alpha(h.immediate_origin, 10, "Immediate origin", right=True),
                self.day(h.file_creation_date, "File creation date"),
                _hhmm(h.file_creation_time),
                self.alpha(h.file_id_modifier, 1, "File ID modifier"),
                "094101",
                self.alpha(h.immediate_destination_name, 23, "Immediate destination name"),
                self.alpha(h.immediate_origin_name, 23, "Immediate origin name"),
                self.alpha(h.reference_code, 8, "Reference code"),
            ]
        )

    def batch_header(self, h: BatchHeader) -> str:
        return "".join(
            [
                "5",
                self.number(h.service_class_code or 0, 3, "Service class code"),
                self.alpha(h.company_name, 16, "Company name"),
                self.alpha(h.company_discretionary_data, 20, "Company discretionary data"),
                self.alpha(h.company_identification, 10, "Company identification"),
                self.alpha(h.sec_code, 3, "SEC code"),
                self.alpha(h.company_entry_description, 10, "Company entry description"),
                self.alpha(h.company_descriptive_date, 6, "Company descriptive date"),
                self.day(h.effective_entry_date, "Effective entry date"),
                self.alpha(h.settlement_date, 3, "Settlement date"),
                self.alpha(h.originator_status_code, 1, "Originator status code"),
                self.digits(h.odfi_identification, 8, "Originating DFI identification"),
                self.number(h.batch_number or 0, 7, "Batch number"),
            ]
        )

    def entry(self, e: EntryDetail) -> str:
        return "".join(
            [
                "6",
                self.number(e.transaction_code, 2, "Transaction code"),
                self.digits(e.rdfi_routing, 9, "Receiving DFI routing"),
                self.alpha(e.dfi_account_number, 17, "DFI account number"),
                self.number(e.amount, 10, "Amount"),
                self.alpha(e.identification_number, 15, "Identification number"),
                self.alpha(e.receiver_name, 22, "Receiver name"),
                self.alpha(e.discretionary_data, 2, "Discretionary data"),
                self.number(e.addenda_indicator or 0, 1, "Addenda record indicator"),
                self.digits(e.trace_number or "", 15, "Trace number"),
            ]
        )

    def addenda(self, a: Addenda05) -> str:
        return "".join(
            [
                "705",
                self.alpha(a.payment_related_information, 80, "Payment related information"),
                self.number(a.sequence_number or 0, 4, "Addenda sequence number"),
                self.number(a.entry_detail_sequence_number or 0, 7, "Entry detail sequence"),
            ]
        )

    def batch_control(self, c: BatchControl) -> str:
        return "".join(
            [
                "8",
                self.number(c.service_class_code, 3, "Service class code"),
                self.number(c.entry_addenda_count, 6, "Batch entry/addenda count"),
                self.number(c.entry_hash, 10, "Batch entry hash"),
                self.number(c.total_debit, 12, "Batch total debit"),
                self.number(c.total_credit, 12, "Batch total credit"),
                self.alpha(c.company_identification, 10, "Company identification"),
                self.alpha(c.message_authentication_code, 19, "Message authentication code"),
                " " * 6,
                self.digits(c.odfi_identification, 8, "Originating DFI identification"),
                self.number(c.batch_number, 7, "Batch number"),
            ]
        )

    def file_control(self, c: FileControl) -> str:
        return "".join(
            [
                "9",
                self.number(c.batch_count, 6, "Batch count"),
                self.number(c.block_count, 6, "Block count"),
                self.number(c.entry_addenda_count, 8, "File entry/addenda count"),
                self.number(c.entry_hash, 10, "File entry hash"),
                self.number(c.total_debit, 12, "File total debit"),
                self.number(c.total_credit, 12, "File total credit"),
                " " * 39,
            ]
        )


def _hhmm(value: time | None) -> str:
    return "    " if value is None else value.strftime("%H%M")


def _text(record: _Record) -> _Record:
    """`record` with every text field as it will read back: transliterated, no trailing blanks."""
    changes: dict[str, Any] = {
        f.name: transliterate(value).rstrip()
        for f in dataclasses.fields(record)
        if isinstance(value := getattr(record, f.name), str)
    }
    return dataclasses.replace(record, **changes)


def _resolve_entries(entries: list[EntryDetail], odfi: str) -> list[EntryDetail]:
    """Entries with trace numbers, addenda indicators and addenda sequence numbers filled in."""
    resolved: list[EntryDetail] = []
    sequence = 0
    for entry in entries:
        trace = entry.trace_number
        if trace is None:
            trace = f"{odfi}{sequence + 1:07d}"
        if _digits(trace, 15):
            sequence = int(trace[-7:])
        addenda: list[Addenda05 | OtherAddenda] = []
        for position, item in enumerate(entry.addenda, 1):
            if isinstance(item, Addenda05):
                item = _text(item)
                seq = item.entry_detail_sequence_number
                if seq is None and _digits(trace, 15):
                    seq = int(trace[-7:])
                number = position if item.sequence_number is None else item.sequence_number
                item = dataclasses.replace(
                    item, sequence_number=number, entry_detail_sequence_number=seq
                )
            addenda.append(item)
        indicator = entry.addenda_indicator
        if indicator is None:
            indicator = 1 if addenda else 0
        resolved.append(
            dataclasses.replace(
                _text(entry), trace_number=trace, addenda_indicator=indicator, addenda=addenda
            )
        )
    return resolved


def _resolve_batch(batch: Batch, position: int) -> Batch:
    header = _text(batch.header)
    entries = _resolve_entries(batch.entries, header.odfi_identification)
    service_class = header.service_class_code
    if service_class is None:
        service_class = derived_service_class(entries)
    number = position if header.batch_number is None else header.batch_number
    header = dataclasses.replace(header, service_class_code=service_class, batch_number=number)
    debit, credit = totals(entries)
    control = BatchControl(
        service_class_code=service_class,
        entry_addenda_count=entry_addenda_count(entries),
        entry_hash=entry_hash(entries),
        total_debit=debit,
        total_credit=credit,
        company_identification=header.company_identification,
        odfi_identification=header.odfi_identification,
        batch_number=number,
        message_authentication_code=batch.control.message_authentication_code
        if batch.control
        else "",
    )
    return Batch(header=header, entries=entries, control=control)


def resolve(file: AchFile) -> AchFile:
    """The file as it will be written and read back.

    Derived fields are filled in, controls computed, text transliterated to upper-case ASCII
    without trailing blanks (routing fields without leading ones), so that
    `read_ach(write_ach(file)) == resolve(file)`. The input is not changed.
    """
    batches = [_resolve_batch(b, i) for i, b in enumerate(file.batches, 1)]
    header = file.header
    if header is not None:
        header = _text(header)
        header.immediate_destination = header.immediate_destination.strip()
        header.immediate_origin = header.immediate_origin.strip()
    resolved = AchFile(header=header, batches=batches)
    entries = [e for b in batches for e in b.entries]
    debit, credit = totals(entries)
    resolved.control = FileControl(
        batch_count=len(batches),
        block_count=block_count(record_count(resolved)),
        entry_addenda_count=entry_addenda_count(entries),
        entry_hash=sum(b.control.entry_hash for b in batches if b.control) % 10**10,
        total_debit=debit,
        total_credit=credit,
    )
    return resolved


def _writer_only_checks(file: AchFile) -> list[AchError]:
    """What the reader accepts but this writer does not produce: other SEC codes and addenda."""
    errors: list[AchError] = []
    for batch in file.batches:
        if batch.header.sec_code not in SEC_CODES:
            msg = ERR_SEC_CODE.format(code=batch.header.sec_code)
            errors.append(AchError(SEC_CODE, msg, batch.header.line))
        for entry in batch.entries:
            for item in entry.addenda:
                if isinstance(item, OtherAddenda):
                    msg = ERR_OTHER_ADDENDA_WRITE.format(type=item.addenda_type)
                    errors.append(AchError(SEC_CODE, msg, item.line))
    return errors


def write_ach(file: AchFile) -> bytes:
    """The NACHA bytes of `file`: 94-character records joined by "\\n", blocked by 10.

    Raises AchWriteError listing every problem (validation, unsupported content, characters
    without ASCII form, values too long for their fields). No clock is read: the creation date
    and time come from the file header, so the same input always gives the same bytes.
    """
    resolved = resolve(file)
    errors = _writer_only_checks(resolved) + validate(resolved)
    if errors:
        raise AchWriteError(errors)
    assert resolved.header is not None  # validate reports a missing header
    assert resolved.control is not None
    out = _Renderer()
    lines = [out.file_header(resolved.header)]
    for batch in resolved.batches:
        assert batch.control is not None
        lines.append(out.batch_header(batch.header))
        for entry in batch.entries:
            lines.append(out.entry(entry))
            lines.extend(out.addenda(a) for a in entry.addenda if isinstance(a, Addenda05))
        lines.append(out.batch_control(batch.control))
    lines.append(out.file_control(resolved.control))
    if out.errors:
        raise AchWriteError(out.errors)
    lines.extend([PADDING_RECORD] * (-len(lines) % 10))
    assert all(len(line) == RECORD_LENGTH for line in lines)
    return "\n".join(lines).encode("ascii")
