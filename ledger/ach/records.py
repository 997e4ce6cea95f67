"""NACHA record data classes, error codes and messages, and the routing-number helpers.

Amounts are integer cents. Alphanumeric fields are held without their blank fill (trailing
blanks stripped on read, added back on write). Fields the writer can derive (service class code,
batch number, trace number, addenda indicator, the control records) may be left as `None`.
Every record read from a file remembers its line number (`line`, 1-based); the field is left out
of comparisons, so a re-read file equals the structure it was written from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

RECORD_LENGTH = 94
BLOCKING_FACTOR = 10
PADDING_RECORD = "9" * RECORD_LENGTH
MAX_AMOUNT = 9_999_999_999  # the entry amount field: ten digits of cents, $99,999,999.99
SEC_CODES = frozenset({"PPD", "CCD"})  # the codes this module writes (the reader reads any)

# Service class codes.
MIXED = 200
CREDITS_ONLY = 220
DEBITS_ONLY = 225
SERVICE_CLASS_CODES = frozenset({MIXED, CREDITS_ONLY, DEBITS_ONLY})

# Transaction codes: checking (2x) and savings (3x); live entries and prenotifications.
CREDIT_CODES = frozenset({22, 23, 32, 33})
DEBIT_CODES = frozenset({27, 28, 37, 38})
PRENOTE_CODES = frozenset({23, 28, 33, 38})
TRANSACTION_CODES = CREDIT_CODES | DEBIT_CODES
# Any NACHA transaction code, for batches of other SEC codes read from a file: the second digit
# says the side (1-4 credit, 6-9 debit); 2x checking, 3x savings, 4x general ledger, 5x loan.
_KNOWN_ACCOUNT_KINDS = frozenset({"2", "3", "4", "5"})

# Machine-readable error codes.
RECORD_LENGTH_CODE = "record_length"
NON_ASCII = "non_ascii"
RECORD_TYPE = "record_type"
RECORD_ORDER = "record_order"
MISSING_FILE_HEADER = "missing_file_header"
MISSING_FILE_CONTROL = "missing_file_control"
MISSING_BATCH_CONTROL = "missing_batch_control"
EMPTY_BATCH = "empty_batch"
FIELD_FORMAT = "field_format"
REQUIRED_FIELD = "required_field"
FIELD_TOO_LONG = "field_too_long"
ROUTING_CHECK_DIGIT = "routing_check_digit"
BLOCKING = "blocking"
PADDING = "padding"
BLOCK_COUNT = "block_count"
BATCH_COUNT = "batch_count"
ENTRY_ADDENDA_COUNT = "entry_addenda_count"
ENTRY_HASH = "entry_hash"
TOTAL_DEBIT = "total_debit"
TOTAL_CREDIT = "total_credit"
BATCH_CONTROL_MISMATCH = "batch_control_mismatch"
SERVICE_CLASS = "service_class_code"
SEC_CODE = "sec_code"
TRANSACTION_CODE = "transaction_code"
AMOUNT = "amount"
ADDENDA = "addenda"
TRACE_NUMBER = "trace_number"
TRACE_ORDER = "trace_number_order"
BATCH_NUMBER_ORDER = "batch_number_order"

# Messages (formatted with the named values).
ERR_RECORD_LENGTH = "Record is {length} characters long; NACHA records are 94."
ERR_NON_ASCII = "Record holds characters outside printable ASCII."
ERR_RECORD_TYPE = "Unknown record type {type!r}."
ERR_RECORD_ORDER = "A record of type {type} cannot follow a record of type {previous}."
ERR_MISSING_FILE_HEADER = "The file has no file header record (type 1)."
ERR_MISSING_FILE_CONTROL = "The file has no file control record (type 9)."
ERR_MISSING_BATCH_CONTROL = "Batch {batch} has no batch control record (type 8)."
ERR_EMPTY_BATCH = "Batch {batch} holds no entries."
ERR_NOT_NUMERIC = "{field} must be {width} digits, not {value!r}."
ERR_BAD_DATE = "{field} must be a date as YYMMDD, not {value!r}."
ERR_BAD_TIME = "{field} must be a time as HHMM or blank, not {value!r}."
ERR_FILE_ID_MODIFIER = "File ID modifier must be one of A-Z or 0-9, not {value!r}."
ERR_FIXED_VALUE = "{field} must be {expected!r}, not {value!r}."
ERR_REQUIRED = "{field} is required."
ERR_TOO_LONG = "{field} is {length} characters after transliteration; the field holds {width}."
ERR_NOT_ASCII_TEXT = "{field} holds {char!r}, which has no ASCII transliteration."
ERR_ROUTING = "{field} {value!r} is not a valid 9-digit ABA routing number."
ERR_BLOCKING = "The file has {lines} lines; it must be a multiple of 10 (blocking factor 10)."
ERR_PADDING = "Lines after the file control must be all 9s (block padding)."
ERR_EXCESS_PADDING = "The file has {padding} padding lines; a full block of padding is not allowed."
ERR_COUNT = "{what}: control says {declared}, the file holds {actual}."
ERR_CONTROL_FIELD = "Batch control {field} is {control!r}; the batch header says {header!r}."
ERR_SERVICE_CLASS = "Service class code {code} does not fit entries that are {sides}."
ERR_SERVICE_CLASS_VALUE = "Service class code must be 200, 220 or 225, not {code}."
ERR_SEC_CODE = "SEC code {code!r} is not supported for writing (PPD and CCD are)."
ERR_SEC_FORMAT = "SEC code must be three letters, not {code!r}."
ERR_TRANSACTION_CODE = "Transaction code {code} is not allowed in a {sec} batch."
ERR_PRENOTE_AMOUNT = "A prenotification (code {code}) must have a zero amount, not {amount}."
ERR_ZERO_AMOUNT = "A live entry (code {code}) needs an amount above zero."
ERR_AMOUNT_TYPE = "Amount {amount!r} must be an integer number of cents."
ERR_AMOUNT_RANGE = "Amount {amount} is outside 0..9,999,999,999 cents."
ERR_ADDENDA_INDICATOR = "Addenda indicator is {indicator} but the entry has {count} addenda."
ERR_ADDENDA_TYPE = "Addenda type {type!r} is not allowed in a {sec} batch (only 05)."
ERR_ADDENDA_TOO_MANY = "A {sec} entry may carry one addenda record, this one has {count}."
ERR_ADDENDA_SEQUENCE = "Addenda sequence number is {value}; expected {expected}."
ERR_ADDENDA_ENTRY = "Addenda entry detail sequence {value} does not match the trace {trace}."
ERR_ADDENDA_ORPHAN = "An addenda record must follow an entry detail record."
ERR_TRACE = "Trace number {trace!r} must be 15 digits starting with the ODFI {odfi}."
ERR_TRACE_ORDER = "Trace number {trace} does not ascend (previous {previous})."
ERR_BATCH_ORDER = "Batch number {number} does not ascend (previous {previous})."
ERR_OTHER_ADDENDA_WRITE = "Addenda of type {type!r} are read but not written by this module."


@dataclass(frozen=True)
class AchError:
    """One problem: a machine-readable `code`, a message, and the 1-based line when known."""

    code: str
    message: str
    line: int | None = None


class AchWriteError(ValueError):
    """Raised by `write_ach` with every problem that keeps the file from being written."""

    def __init__(self, errors: list[AchError]) -> None:
        self.errors = errors
        super().__init__("; ".join(e.message for e in errors))


@dataclass
class FileHeader:
    """Record type 1. Routing fields hold the field as given, without its leading blank."""

    immediate_destination: str  # " " + 9-digit routing in the file; held as the 9 digits
    immediate_origin: str  # 9-digit routing, or a 10-digit identifier such as "0" + routing
    file_creation_date: date | None  # None only when read from a file without a valid one
    file_creation_time: time | None = None  # HHMM; blank in the file when None
    file_id_modifier: str = "A"
    immediate_destination_name: str = ""
    immediate_origin_name: str = ""
    reference_code: str = ""
    line: int | None = field(default=None, compare=False)


@dataclass
class BatchHeader:
    """Record type 5 (company/batch header). `odfi_identification` is the ODFI's 8 digits."""

    company_name: str
    company_identification: str
    sec_code: str  # PPD or CCD (others are read but not written)
    company_entry_description: str
    effective_entry_date: date | None
    odfi_identification: str
    service_class_code: int | None = None  # derived from the entries when None
    batch_number: int | None = None  # position in the file (1-based) when None
    company_discretionary_data: str = ""
    company_descriptive_date: str = ""  # free text, e.g. "SEP 15"
    settlement_date: str = ""  # Julian day, filled in by the ACH operator: blank when sent
    originator_status_code: str = "1"
    line: int | None = field(default=None, compare=False)


@dataclass
class Addenda05:
    """Record type 7, addenda type 05: 80 characters of payment-related information."""

    payment_related_information: str
    sequence_number: int | None = None  # 1 for the only addenda of a PPD/CCD entry
    entry_detail_sequence_number: int | None = None  # last 7 digits of the entry's trace
    line: int | None = field(default=None, compare=False)


@dataclass
class OtherAddenda:
    """An addenda record of another type (IAT's 10-18, say), kept verbatim; never written."""

    addenda_type: str
    record: str
    line: int | None = field(default=None, compare=False)


@dataclass
class EntryDetail:
    """Record type 6. `rdfi_routing` is the 9-digit routing: 8-digit DFI id plus check digit."""

    transaction_code: int
    rdfi_routing: str
    dfi_account_number: str
    amount: int  # cents
    receiver_name: str  # individual name (PPD) or receiving company name (CCD)
    identification_number: str = ""  # individual identification number (PPD) or id (CCD)
    discretionary_data: str = ""
    trace_number: str | None = None  # ODFI's 8 digits + 7-digit sequence; assigned when None
    addenda_indicator: int | None = None  # derived from `addenda` when None
    addenda: list[Addenda05 | OtherAddenda] = field(default_factory=list)
    line: int | None = field(default=None, compare=False)

    @property
    def rdfi_identification(self) -> str:
        """The receiving DFI's 8-digit identification (the routing without its check digit)."""
        return self.rdfi_routing[:8]

    @property
    def is_credit(self) -> bool:
        """True for credit transaction codes (second digit 1-4)."""
        return transaction_side(self.transaction_code) == "credit"


@dataclass
class BatchControl:
    """Record type 8, as read from a file (the writer computes it)."""

    service_class_code: int
    entry_addenda_count: int
    entry_hash: int
    total_debit: int
    total_credit: int
    company_identification: str
    odfi_identification: str
    batch_number: int
    message_authentication_code: str = ""
    line: int | None = field(default=None, compare=False)


@dataclass
class Batch:
    """A company/batch header, its entries, and (when read) its batch control."""

    header: BatchHeader
    entries: list[EntryDetail] = field(default_factory=list)
    control: BatchControl | None = None


@dataclass
class FileControl:
    """Record type 9, as read from a file (the writer computes it)."""

    batch_count: int
    block_count: int
    entry_addenda_count: int
    entry_hash: int
    total_debit: int
    total_credit: int
    line: int | None = field(default=None, compare=False)


@dataclass
class AchFile:
    """A whole file. `errors` holds what `read_ach` found; it takes no part in comparisons."""

    header: FileHeader | None
    batches: list[Batch] = field(default_factory=list)
    control: FileControl | None = None
    errors: list[AchError] = field(default_factory=list, compare=False)

    @property
    def is_valid(self) -> bool:
        """True when reading found no problem."""
        return not self.errors


def transaction_side(code: int) -> str | None:
    """'credit', 'debit', or None for a code that is not a NACHA transaction code."""
    if not 20 <= code <= 59 or str(code)[0] not in _KNOWN_ACCOUNT_KINDS:
        return None
    unit = code % 10
    if 1 <= unit <= 4:
        return "credit"
    if 6 <= unit <= 9:
        return "debit"
    return None


def _digits(value: str, length: int) -> bool:
    """True when `value` is exactly `length` ASCII digits (str.isdigit accepts other scripts)."""
    return len(value) == length and all("0" <= c <= "9" for c in value)


def routing_number_is_valid(routing: str) -> bool:
    """True for a 9-digit ABA routing number whose check digit is right (weights 3, 7, 1).

    "000000000" passes the checksum but is no bank: it is refused.
    """
    if not _digits(routing, 9) or routing == "0" * 9:
        return False
    weights = (3, 7, 1) * 3
    return sum(int(d) * w for d, w in zip(routing, weights, strict=True)) % 10 == 0


def routing_check_digit(identification: str) -> str:
    """The ABA check digit completing an 8-digit DFI identification."""
    if not _digits(identification, 8):
        raise ValueError(ERR_NOT_NUMERIC.format(field="DFI identification", width=8, value=""))
    total = sum(int(d) * w for d, w in zip(identification, (3, 7, 1, 3, 7, 1, 3, 7), strict=True))
    return str((10 - total % 10) % 10)


def mask_account_number(number: str) -> str:
    """Show only the last 4 characters: "123456789" gives "****6789".

    The mask is always four asterisks, so it does not reveal the length; a number of four
    characters or fewer is masked entirely ("****"), since showing it would show all of it.
    Blanks around the number are ignored.
    """
    clean = number.strip()
    if len(clean) <= 4:
        return "****"
    return "****" + clean[-4:]
