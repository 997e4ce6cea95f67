"""`read_ach(data) -> AchFile`: parse a NACHA file and collect every problem in it.

Lines may end in "\\n" or "\\r\\n", with or without a newline after the last record; a file
without any line break is cut into 94-character records. Bytes are read as Latin-1 so that a
stray non-ASCII byte is one character, reported as `non_ascii`, and never a decoding error.
Batches of any SEC code are read (IAT addenda are kept verbatim as `OtherAddenda`); the rules
for PPD and CCD apply to those batches only. A record found where it cannot be (an entry outside
a batch, say) is reported and left out of the structure.
"""

from __future__ import annotations

from datetime import date, time

from .records import (
    BLOCKING,
    BLOCKING_FACTOR,
    ERR_ADDENDA_ORPHAN,
    ERR_BAD_DATE,
    ERR_BAD_TIME,
    ERR_BLOCKING,
    ERR_EXCESS_PADDING,
    ERR_FIXED_VALUE,
    ERR_NON_ASCII,
    ERR_NOT_NUMERIC,
    ERR_PADDING,
    ERR_RECORD_LENGTH,
    ERR_RECORD_ORDER,
    ERR_RECORD_TYPE,
    FIELD_FORMAT,
    NON_ASCII,
    PADDING,
    PADDING_RECORD,
    RECORD_LENGTH,
    RECORD_LENGTH_CODE,
    RECORD_ORDER,
    RECORD_TYPE,
    AchError,
    AchFile,
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
from .validation import validate


class _Record:
    """One line, with field accessors by NACHA's 1-based inclusive positions."""

    def __init__(self, text: str, line: int, errors: list[AchError]) -> None:
        self.text = text.ljust(RECORD_LENGTH)[:RECORD_LENGTH]
        self.line = line
        self.errors = errors

    def raw(self, start: int, end: int) -> str:
        return self.text[start - 1 : end]

    def alpha(self, start: int, end: int) -> str:
        """An alphanumeric field without its blank fill."""
        return self.raw(start, end).rstrip()

    def _error(self, template: str, **values: object) -> None:
        self.errors.append(AchError(FIELD_FORMAT, template.format(**values), self.line))

    def number(self, start: int, end: int, name: str) -> int:
        """A numeric field; 0 (and an error) when it is not all digits."""
        value = self.raw(start, end)
        if not _digits(value, end - start + 1):
            self._error(ERR_NOT_NUMERIC, field=name, width=end - start + 1, value=value)
            return 0
        return int(value)

    def fixed(self, start: int, end: int, name: str, expected: str) -> None:
        value = self.raw(start, end)
        if value != expected:
            self._error(ERR_FIXED_VALUE, field=name, expected=expected, value=value)

    def day(self, start: int, end: int, name: str) -> date | None:
        """YYMMDD as a date in 2000-2099; None when blank or not a date (an error if not blank)."""
        value = self.raw(start, end)
        if not value.strip():
            return None
        try:
            if not _digits(value, 6):
                raise ValueError(value)
            return date(2000 + int(value[:2]), int(value[2:4]), int(value[4:]))
        except ValueError:
            self._error(ERR_BAD_DATE, field=name, value=value)
            return None

    def hhmm(self, start: int, end: int, name: str) -> time | None:
        value = self.raw(start, end)
        if not value.strip():
            return None
        try:
            if not _digits(value, 4):
                raise ValueError(value)
            return time(int(value[:2]), int(value[2:]))
        except ValueError:
            self._error(ERR_BAD_TIME, field=name, value=value)
            return None


def _file_header(r: _Record) -> FileHeader:
    r.fixed(2, 3, "Priority code", "01")
    r.fixed(35, 37, "Record size", "094")
    r.fixed(38, 39, "Blocking factor", "10")
    r.fixed(40, 40, "Format code", "1")
    return FileHeader(
        immediate_destination=r.raw(4, 13).strip(),
        immediate_origin=r.raw(14, 23).strip(),
        file_creation_date=r.day(24, 29, "File creation date"),
        file_creation_time=r.hhmm(30, 33, "File creation time"),
        file_id_modifier=r.raw(34, 34),
        immediate_destination_name=r.alpha(41, 63),
        immediate_origin_name=r.alpha(64, 86),
        reference_code=r.alpha(87, 94),
        line=r.line,
    )


def _batch_header(r: _Record) -> BatchHeader:
    return BatchHeader(
        service_class_code=r.number(2, 4, "Service class code"),
        company_name=r.alpha(5, 20),
        company_discretionary_data=r.alpha(21, 40),
        company_identification=r.alpha(41, 50),
        sec_code=r.alpha(51, 53),
        company_entry_description=r.alpha(54, 63),
        company_descriptive_date=r.alpha(64, 69),
        effective_entry_date=r.day(70, 75, "Effective entry date"),
        settlement_date=r.alpha(76, 78),
        originator_status_code=r.alpha(79, 79),
        odfi_identification=r.alpha(80, 87),
        batch_number=r.number(88, 94, "Batch number"),
        line=r.line,
    )


def _entry(r: _Record) -> EntryDetail:
    return EntryDetail(
        transaction_code=r.number(2, 3, "Transaction code"),
        rdfi_routing=r.alpha(4, 12),
        dfi_account_number=r.alpha(13, 29),
        amount=r.number(30, 39, "Amount"),
        identification_number=r.alpha(40, 54),
        receiver_name=r.alpha(55, 76),
        discretionary_data=r.alpha(77, 78),
        addenda_indicator=r.number(79, 79, "Addenda record indicator"),
        trace_number=r.alpha(80, 94),
        line=r.line,
    )


def _addenda(r: _Record) -> Addenda05 | OtherAddenda:
    kind = r.raw(2, 3)
    if kind != "05":
        return OtherAddenda(addenda_type=kind, record=r.text, line=r.line)
    return Addenda05(
        payment_related_information=r.alpha(4, 83),
        sequence_number=r.number(84, 87, "Addenda sequence number"),
        entry_detail_sequence_number=r.number(88, 94, "Entry detail sequence number"),
        line=r.line,
    )


def _batch_control(r: _Record) -> BatchControl:
    return BatchControl(
        service_class_code=r.number(2, 4, "Service class code"),
        entry_addenda_count=r.number(5, 10, "Entry/addenda count"),
        entry_hash=r.number(11, 20, "Entry hash"),
        total_debit=r.number(21, 32, "Total debit"),
        total_credit=r.number(33, 44, "Total credit"),
        company_identification=r.alpha(45, 54),
        message_authentication_code=r.alpha(55, 73),
        odfi_identification=r.alpha(80, 87),
        batch_number=r.number(88, 94, "Batch number"),
        line=r.line,
    )


def _file_control(r: _Record) -> FileControl:
    return FileControl(
        batch_count=r.number(2, 7, "Batch count"),
        block_count=r.number(8, 13, "Block count"),
        entry_addenda_count=r.number(14, 21, "Entry/addenda count"),
        entry_hash=r.number(22, 31, "Entry hash"),
        total_debit=r.number(32, 43, "Total debit"),
        total_credit=r.number(44, 55, "Total credit"),
        line=r.line,
    )


def split_records(text: str) -> list[str]:
    """The file's lines: "\\n" or "\\r\\n" endings, a final newline optional."""
    if "\n" not in text:
        if len(text) > RECORD_LENGTH and len(text) % RECORD_LENGTH == 0:
            return [text[i : i + RECORD_LENGTH] for i in range(0, len(text), RECORD_LENGTH)]
        return [text] if text else []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


class _Parser:
    """Walks the records in order, building the structure and noting misplaced records."""

    def __init__(self) -> None:
        self.errors: list[AchError] = []
        self.file = AchFile(header=None)
        self.batch: Batch | None = None  # the open batch (no batch control yet)
        self.previous = ""  # type of the previous record
        self.padding = 0  # lines after the file control
        self.done = False  # the file control was read

    def _order(self, kind: str, line: int, template: str = ERR_RECORD_ORDER) -> None:
        msg = template.format(type=kind, previous=self.previous or "none")
        self.errors.append(AchError(RECORD_ORDER, msg, line))

    def feed(self, text: str, line: int) -> None:
        if any(not " " <= c <= "~" for c in text):
            self.errors.append(AchError(NON_ASCII, ERR_NON_ASCII, line))
        if len(text) != RECORD_LENGTH:
            msg = ERR_RECORD_LENGTH.format(length=len(text))
            self.errors.append(AchError(RECORD_LENGTH_CODE, msg, line))
        if self.done:
            self.padding += 1
            if text != PADDING_RECORD:
                self.errors.append(AchError(PADDING, ERR_PADDING, line))
            return
        kind = text[:1]
        record = _Record(text, line, self.errors)
        handler = {
            "1": self._file_header,
            "5": self._batch_header,
            "6": self._entry,
            "7": self._addenda,
            "8": self._batch_control,
            "9": self._file_control,
        }.get(kind)
        if handler is None:
            msg = ERR_RECORD_TYPE.format(type=kind)
            self.errors.append(AchError(RECORD_TYPE, msg, line))
            return
        handler(record)
        self.previous = kind

    def _file_header(self, r: _Record) -> None:
        if self.previous:
            self._order("1", r.line)
            return
        self.file.header = _file_header(r)

    def _batch_header(self, r: _Record) -> None:
        # A batch still open lacks its control: `validate` reports it.
        self.batch = Batch(header=_batch_header(r))
        self.file.batches.append(self.batch)

    def _entry(self, r: _Record) -> None:
        if self.batch is None:
            self._order("6", r.line)
            return
        self.batch.entries.append(_entry(r))

    def _addenda(self, r: _Record) -> None:
        if self.batch is None or not self.batch.entries or self.previous not in ("6", "7"):
            self._order("7", r.line, ERR_ADDENDA_ORPHAN)
            return
        self.batch.entries[-1].addenda.append(_addenda(r))

    def _batch_control(self, r: _Record) -> None:
        if self.batch is None:
            self._order("8", r.line)
            return
        self.batch.control = _batch_control(r)
        self.batch = None

    def _file_control(self, r: _Record) -> None:
        self.done = True
        self.batch = None
        if r.text == PADDING_RECORD:  # padding where the file control should be
            self.padding += 1
            return
        self.file.control = _file_control(r)


def read_ach(data: bytes) -> AchFile:
    """Parse `data` into an AchFile whose `errors` list every problem found, in line order.

    Parsing never raises on bad content: a field that cannot be read is reported
    (`field_format`) and read as 0 or None, and the structural rules of `validate` then run on
    what was read. The blocking rules apply to the lines themselves: their count must be a
    multiple of 10, the lines after the file control must be all 9s, and fewer than ten of them.
    """
    lines = split_records(data.decode("latin-1"))
    parser = _Parser()
    for number, text in enumerate(lines, 1):
        parser.feed(text, number)
    errors = parser.errors
    if len(lines) % BLOCKING_FACTOR:
        msg = ERR_BLOCKING.format(lines=len(lines))
        errors.append(AchError(BLOCKING, msg, len(lines)))
    elif parser.padding >= BLOCKING_FACTOR:
        msg = ERR_EXCESS_PADDING.format(padding=parser.padding)
        errors.append(AchError(BLOCKING, msg, len(lines)))
    file = parser.file
    errors.extend(validate(file))
    errors.sort(key=lambda e: (e.line is None, e.line or 0))
    file.errors = errors
    return file
