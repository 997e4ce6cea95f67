"""`validate(file)`: the NACHA rules that hold for a file's structure, wherever it came from.

The reader adds what only the bytes can show (record lengths, record order, characters,
blocking and padding); everything here applies as well to a file built in code before writing.
Every problem is collected; nothing stops at the first.
"""

from __future__ import annotations

from .records import (
    ADDENDA,
    AMOUNT,
    BATCH_CONTROL_MISMATCH,
    BATCH_COUNT,
    BATCH_NUMBER_ORDER,
    BLOCK_COUNT,
    BLOCKING_FACTOR,
    CREDITS_ONLY,
    DEBITS_ONLY,
    EMPTY_BATCH,
    ENTRY_ADDENDA_COUNT,
    ENTRY_HASH,
    ERR_ADDENDA_ENTRY,
    ERR_ADDENDA_INDICATOR,
    ERR_ADDENDA_SEQUENCE,
    ERR_ADDENDA_TOO_MANY,
    ERR_ADDENDA_TYPE,
    ERR_AMOUNT_RANGE,
    ERR_AMOUNT_TYPE,
    ERR_BATCH_ORDER,
    ERR_CONTROL_FIELD,
    ERR_COUNT,
    ERR_EMPTY_BATCH,
    ERR_FILE_ID_MODIFIER,
    ERR_MISSING_BATCH_CONTROL,
    ERR_MISSING_FILE_CONTROL,
    ERR_MISSING_FILE_HEADER,
    ERR_NOT_NUMERIC,
    ERR_PRENOTE_AMOUNT,
    ERR_REQUIRED,
    ERR_ROUTING,
    ERR_SEC_FORMAT,
    ERR_SERVICE_CLASS,
    ERR_SERVICE_CLASS_VALUE,
    ERR_TRACE,
    ERR_TRACE_ORDER,
    ERR_TRANSACTION_CODE,
    ERR_ZERO_AMOUNT,
    FIELD_FORMAT,
    MAX_AMOUNT,
    MISSING_BATCH_CONTROL,
    MISSING_FILE_CONTROL,
    MISSING_FILE_HEADER,
    PRENOTE_CODES,
    REQUIRED_FIELD,
    ROUTING_CHECK_DIGIT,
    SEC_CODE,
    SEC_CODES,
    SERVICE_CLASS,
    SERVICE_CLASS_CODES,
    TOTAL_CREDIT,
    TOTAL_DEBIT,
    TRACE_NUMBER,
    TRACE_ORDER,
    TRANSACTION_CODE,
    TRANSACTION_CODES,
    AchError,
    AchFile,
    Addenda05,
    Batch,
    EntryDetail,
    FileHeader,
    OtherAddenda,
    _digits,
    routing_number_is_valid,
    transaction_side,
)

_HASH_MODULUS = 10**10  # the entry hash keeps its last 10 digits


def entry_hash(entries: list[EntryDetail]) -> int:
    """Sum of the receiving DFIs' 8-digit identifications, last 10 digits kept."""
    ids = (e.rdfi_identification for e in entries)
    return sum(int(i) for i in ids if _digits(i, 8)) % _HASH_MODULUS


def totals(entries: list[EntryDetail]) -> tuple[int, int]:
    """(total debit, total credit) in cents; an unknown transaction code counts in neither."""
    debit = sum(e.amount for e in entries if transaction_side(e.transaction_code) == "debit")
    credit = sum(e.amount for e in entries if transaction_side(e.transaction_code) == "credit")
    return debit, credit


def entry_addenda_count(entries: list[EntryDetail]) -> int:
    """Entry detail records plus addenda records."""
    return len(entries) + sum(len(e.addenda) for e in entries)


def derived_service_class(entries: list[EntryDetail]) -> int:
    """200 for mixed debits and credits, 220 for credits only, 225 for debits only."""
    sides = {transaction_side(e.transaction_code) for e in entries}
    if sides == {"credit"}:
        return CREDITS_ONLY
    if sides == {"debit"}:
        return DEBITS_ONLY
    return 200


def record_count(file: AchFile) -> int:
    """Records before the block padding: header, batches with their controls, file control."""
    return 2 + sum(2 + entry_addenda_count(b.entries) for b in file.batches)


def block_count(records: int) -> int:
    """Blocks of ten records needed for `records` records."""
    return -(-records // BLOCKING_FACTOR)


def _routing_field(value: str, *, origin: bool) -> bool:
    """Immediate destination/origin: 9-digit routing, or 10 digits.

    10 digits are "0" + routing for a destination; an origin may also be a 10-digit company
    identifier (such as "1" + EIN), which carries no check digit and is only checked as digits.
    """
    if _digits(value, 9):
        return routing_number_is_valid(value)
    if _digits(value, 10):
        if value[0] == "0":
            return routing_number_is_valid(value[1:])
        return origin
    return False


def _check_header(header: FileHeader, errors: list[AchError]) -> None:
    line = header.line
    for name, value, origin in (
        ("Immediate destination", header.immediate_destination, False),
        ("Immediate origin", header.immediate_origin, True),
    ):
        if not _routing_field(value, origin=origin):
            msg = ERR_ROUTING.format(field=name, value=value)
            errors.append(AchError(ROUTING_CHECK_DIGIT, msg, line))
    if header.file_creation_date is None:
        msg = ERR_REQUIRED.format(field="File creation date")
        errors.append(AchError(REQUIRED_FIELD, msg, line))
    modifier = header.file_id_modifier
    if len(modifier) != 1 or not ("A" <= modifier <= "Z" or "0" <= modifier <= "9"):
        msg = ERR_FILE_ID_MODIFIER.format(value=modifier)
        errors.append(AchError(FIELD_FORMAT, msg, line))


def _check_entry(
    entry: EntryDetail, sec: str, odfi: str, previous: str | None, errors: list[AchError]
) -> None:
    line = entry.line
    ours = sec in SEC_CODES
    code = entry.transaction_code
    if (ours and code not in TRANSACTION_CODES) or transaction_side(code) is None:
        msg = ERR_TRANSACTION_CODE.format(code=code, sec=sec)
        errors.append(AchError(TRANSACTION_CODE, msg, line))
    if not routing_number_is_valid(entry.rdfi_routing):
        msg = ERR_ROUTING.format(field="Receiving DFI routing", value=entry.rdfi_routing)
        errors.append(AchError(ROUTING_CHECK_DIGIT, msg, line))
    if type(entry.amount) is not int:  # floats (and bools) are refused, never rounded
        errors.append(AchError(AMOUNT, ERR_AMOUNT_TYPE.format(amount=entry.amount), line))
    elif not 0 <= entry.amount <= MAX_AMOUNT:
        errors.append(AchError(AMOUNT, ERR_AMOUNT_RANGE.format(amount=entry.amount), line))
    elif code in PRENOTE_CODES and entry.amount != 0:
        msg = ERR_PRENOTE_AMOUNT.format(code=code, amount=entry.amount)
        errors.append(AchError(AMOUNT, msg, line))
    elif ours and code in TRANSACTION_CODES - PRENOTE_CODES and entry.amount == 0:
        errors.append(AchError(AMOUNT, ERR_ZERO_AMOUNT.format(code=code), line))
    if ours and not entry.dfi_account_number.strip():
        msg = ERR_REQUIRED.format(field="DFI account number")
        errors.append(AchError(REQUIRED_FIELD, msg, line))
    if sec == "PPD" and not entry.receiver_name.strip():
        errors.append(AchError(REQUIRED_FIELD, ERR_REQUIRED.format(field="Individual name"), line))
    trace = entry.trace_number
    if trace is not None:
        if not _digits(trace, 15) or trace[:8] != odfi:
            errors.append(AchError(TRACE_NUMBER, ERR_TRACE.format(trace=trace, odfi=odfi), line))
        elif previous is not None and _digits(previous, 15) and trace <= previous:
            msg = ERR_TRACE_ORDER.format(trace=trace, previous=previous)
            errors.append(AchError(TRACE_ORDER, msg, line))
    _check_addenda(entry, sec, errors)


def _check_addenda(entry: EntryDetail, sec: str, errors: list[AchError]) -> None:
    count = len(entry.addenda)
    indicator = entry.addenda_indicator
    if indicator is not None and indicator != (1 if count else 0):
        msg = ERR_ADDENDA_INDICATOR.format(indicator=indicator, count=count)
        errors.append(AchError(ADDENDA, msg, entry.line))
    if sec in SEC_CODES and count > 1:
        msg = ERR_ADDENDA_TOO_MANY.format(sec=sec, count=count)
        errors.append(AchError(ADDENDA, msg, entry.addenda[1].line or entry.line))
    trace = entry.trace_number
    for position, addenda in enumerate(entry.addenda, 1):
        line = addenda.line or entry.line
        if isinstance(addenda, OtherAddenda):
            if sec in SEC_CODES:
                msg = ERR_ADDENDA_TYPE.format(type=addenda.addenda_type, sec=sec)
                errors.append(AchError(ADDENDA, msg, line))
            continue
        _check_addenda05(addenda, position, trace, line, errors)


def _check_addenda05(
    addenda: Addenda05, position: int, trace: str | None, line: int | None, errors: list[AchError]
) -> None:
    if addenda.sequence_number is not None and addenda.sequence_number != position:
        msg = ERR_ADDENDA_SEQUENCE.format(value=addenda.sequence_number, expected=position)
        errors.append(AchError(ADDENDA, msg, line))
    sequence = addenda.entry_detail_sequence_number
    if trace is None or sequence is None or not _digits(trace, 15):
        return
    if sequence != int(trace[-7:]):
        msg = ERR_ADDENDA_ENTRY.format(value=sequence, trace=trace)
        errors.append(AchError(ADDENDA, msg, line))


def _check_batch_header(batch: Batch, index: int, errors: list[AchError]) -> None:
    header = batch.header
    line = header.line
    sec = header.sec_code
    if not (len(sec) == 3 and all("A" <= c <= "Z" for c in sec)):
        errors.append(AchError(SEC_CODE, ERR_SEC_FORMAT.format(code=sec), line))
    if not _digits(header.odfi_identification, 8):
        msg = ERR_NOT_NUMERIC.format(
            field="Originating DFI identification", width=8, value=header.odfi_identification
        )
        errors.append(AchError(FIELD_FORMAT, msg, line))
    required = [("Company identification", header.company_identification)]
    if sec in SEC_CODES:
        required += [
            ("Company name", header.company_name),
            ("Company entry description", header.company_entry_description),
        ]
    for name, value in required:
        if not value.strip():
            errors.append(AchError(REQUIRED_FIELD, ERR_REQUIRED.format(field=name), line))
    if header.effective_entry_date is None:
        msg = ERR_REQUIRED.format(field="Effective entry date")
        errors.append(AchError(REQUIRED_FIELD, msg, line))
    if not batch.entries:
        errors.append(AchError(EMPTY_BATCH, ERR_EMPTY_BATCH.format(batch=index), line))
    code = header.service_class_code
    if code is None:
        return
    if code not in SERVICE_CLASS_CODES:
        errors.append(AchError(SERVICE_CLASS, ERR_SERVICE_CLASS_VALUE.format(code=code), line))
        return
    sides = {s for e in batch.entries if (s := transaction_side(e.transaction_code))}
    if (code == CREDITS_ONLY and "debit" in sides) or (code == DEBITS_ONLY and "credit" in sides):
        msg = ERR_SERVICE_CLASS.format(code=code, sides=" and ".join(sorted(sides)) + "s")
        errors.append(AchError(SERVICE_CLASS, msg, line))


def _check_batch(batch: Batch, index: int, errors: list[AchError]) -> None:
    header = batch.header
    _check_batch_header(batch, index, errors)
    previous: str | None = None
    for entry in batch.entries:
        _check_entry(entry, header.sec_code, header.odfi_identification, previous, errors)
        trace = entry.trace_number
        if trace is not None and _digits(trace, 15) and trace[:8] == header.odfi_identification:
            previous = trace
    control = batch.control
    if control is None:
        last = batch.entries[-1] if batch.entries else None
        line = (last.addenda[-1].line if last and last.addenda else None) or (
            last.line if last else header.line
        )
        msg = ERR_MISSING_BATCH_CONTROL.format(batch=index)
        errors.append(AchError(MISSING_BATCH_CONTROL, msg, line))
        return
    line = control.line
    for name, in_control, in_header in (
        ("service class code", control.service_class_code, header.service_class_code),
        ("company identification", control.company_identification, header.company_identification),
        ("ODFI identification", control.odfi_identification, header.odfi_identification),
        ("batch number", control.batch_number, header.batch_number),
    ):
        if in_header is not None and in_control != in_header:
            msg = ERR_CONTROL_FIELD.format(field=name, control=in_control, header=in_header)
            errors.append(AchError(BATCH_CONTROL_MISMATCH, msg, line))
    debit, credit = totals(batch.entries)
    where = f"Batch {index} control"
    _compare(
        errors,
        line,
        where,
        [
            (
                ENTRY_ADDENDA_COUNT,
                "entry/addenda count",
                control.entry_addenda_count,
                entry_addenda_count(batch.entries),
            ),
            (ENTRY_HASH, "entry hash", control.entry_hash, entry_hash(batch.entries)),
            (TOTAL_DEBIT, "total debit", control.total_debit, debit),
            (TOTAL_CREDIT, "total credit", control.total_credit, credit),
        ],
    )


def _compare(
    errors: list[AchError], line: int | None, where: str, checks: list[tuple[str, str, int, int]]
) -> None:
    for code, what, declared, actual in checks:
        if declared != actual:
            msg = ERR_COUNT.format(what=f"{where} {what}", declared=declared, actual=actual)
            errors.append(AchError(code, msg, line))


def validate(file: AchFile) -> list[AchError]:
    """Every rule broken by the file's structure, in file order (empty when the file is valid).

    Controls are checked against the entries themselves (not the file control against the
    batch controls), so one wrong amount shows in its batch control and in the file control.
    """
    errors: list[AchError] = []
    if file.header is None:
        errors.append(AchError(MISSING_FILE_HEADER, ERR_MISSING_FILE_HEADER, 1))
    else:
        _check_header(file.header, errors)
    previous: int | None = None
    for index, batch in enumerate(file.batches, 1):
        number = batch.header.batch_number
        if number is not None and previous is not None and number <= previous:
            msg = ERR_BATCH_ORDER.format(number=number, previous=previous)
            errors.append(AchError(BATCH_NUMBER_ORDER, msg, batch.header.line))
        previous = number if number is not None else previous
        _check_batch(batch, index, errors)
    control = file.control
    if control is None:
        errors.append(AchError(MISSING_FILE_CONTROL, ERR_MISSING_FILE_CONTROL))
        return errors
    entries = [e for b in file.batches for e in b.entries]
    debit, credit = totals(entries)
    _compare(
        errors,
        control.line,
        "File control",
        [
            (BATCH_COUNT, "batch count", control.batch_count, len(file.batches)),
            (BLOCK_COUNT, "block count", control.block_count, block_count(record_count(file))),
            (
                ENTRY_ADDENDA_COUNT,
                "entry/addenda count",
                control.entry_addenda_count,
                entry_addenda_count(entries),
            ),
            (
                ENTRY_HASH,
                "entry hash",
                control.entry_hash,
                sum(entry_hash(b.entries) for b in file.batches) % _HASH_MODULUS,
            ),
            (TOTAL_DEBIT, "total debit", control.total_debit, debit),
            (TOTAL_CREDIT, "total credit", control.total_credit, credit),
        ],
    )
    return errors
