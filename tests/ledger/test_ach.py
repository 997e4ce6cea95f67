"""NACHA ACH files: the golden samples, round trips, generated files and the validating reader.

No database: the ACH module is pure Python. The samples sit in the shared folder beside the
checkout; without it these tests skip locally and fail in CI.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from datetime import date, time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.ach import (
    MAX_AMOUNT,
    AchFile,
    AchWriteError,
    Addenda05,
    Batch,
    BatchHeader,
    EntryDetail,
    FileHeader,
    OtherAddenda,
    fit_text,
    mask_account_number,
    read_ach,
    resolve,
    routing_check_digit,
    routing_number_is_valid,
    validate,
    write_ach,
)

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ach-samples"
IN_CI = os.environ.get("CI", "").lower() == "true"
VALID_SAMPLES = [
    "test_ach-ppd-read_ppd-debit.ach",
    "test_ach-ccd-read_ccd-debit.ach",
    "examples_testdata_ppd-credit.ach",
    "examples_testdata_ppd-mixedDebitCredit.ach",
]
INVALID_SAMPLE = "invalid_batch-count_20110805A.ach"
# Routing numbers found in the samples (immediate destinations/origins and RDFIs).
SAMPLE_ROUTINGS = ["231380104", "031300012", "121042882", "042000013", "021200025", "091050234"]
ODFI = "12104288"


@pytest.fixture
def samples() -> Path:
    """The shared sample folder: required in CI, optional on a workstation."""
    if not SAMPLES.is_dir():
        if IN_CI:
            pytest.fail(f"ACH samples missing at {SAMPLES} (required in CI)", pytrace=False)
        pytest.skip(f"ACH samples not found at {SAMPLES}")
    return SAMPLES


def codes(file: AchFile) -> set[str]:
    return {e.code for e in file.errors}


# --- the golden samples -------------------------------------------------------------------------


@pytest.mark.parametrize("name", VALID_SAMPLES)
def test_valid_sample_reads_without_errors(samples: Path, name: str) -> None:
    file = read_ach((samples / name).read_bytes())
    assert file.errors == []
    assert file.is_valid
    assert len(file.batches) == 1
    assert file.header is not None
    assert file.control is not None
    assert file.control.batch_count == 1
    assert file.control.block_count == 1


def test_samples_read_as_their_readme_says(samples: Path) -> None:
    ppd = read_ach((samples / "test_ach-ppd-read_ppd-debit.ach").read_bytes())
    (entry,) = ppd.batches[0].entries
    assert ppd.batches[0].header.sec_code == "PPD"
    assert ppd.batches[0].header.service_class_code == 225
    assert (entry.transaction_code, entry.amount, entry.is_credit) == (27, 100_000_000, False)
    assert entry.rdfi_routing == "231380104"
    assert entry.trace_number == "121042880000001"

    ccd = read_ach((samples / "test_ach-ccd-read_ccd-debit.ach").read_bytes())
    assert ccd.batches[0].header.sec_code == "CCD"
    assert ccd.header is not None
    assert ccd.header.file_creation_time == time(0, 0)
    assert ccd.header.immediate_destination == "231380104"
    assert ccd.header.immediate_origin == "031300012"
    assert [e.amount for e in ccd.batches[0].entries] == [500_000, 125]

    credit = read_ach((samples / "examples_testdata_ppd-credit.ach").read_bytes())
    assert credit.batches[0].header.service_class_code == 220
    assert credit.batches[0].entries[0].is_credit
    assert credit.header is not None
    assert credit.header.immediate_origin == "0231380104"  # ten digits: "0" + routing
    assert credit.header.reference_code == "12345678"

    mixed = read_ach((samples / "examples_testdata_ppd-mixedDebitCredit.ach").read_bytes())
    header = mixed.batches[0].header
    assert header.service_class_code == 200
    assert header.effective_entry_date == date(2019, 7, 19)
    assert [e.transaction_code for e in mixed.batches[0].entries] == [27, 22, 22]
    assert mixed.control is not None
    assert (mixed.control.total_debit, mixed.control.total_credit) == (200_000_000, 200_000_000)


def test_invalid_sample_reports_batch_count_and_blocking(samples: Path) -> None:
    data = (samples / INVALID_SAMPLE).read_bytes()
    file = read_ach(data)
    assert not file.is_valid
    assert codes(file) == {"batch_count", "blocking"}
    assert [(e.code, e.line) for e in file.errors] == [("blocking", 93), ("batch_count", 93)]
    assert file.control is not None
    assert (file.control.batch_count, len(file.batches)) == (5, 4)
    assert len(data.splitlines()) == 93
    # Everything else in it adds up, IAT batches included.
    assert [b.header.sec_code for b in file.batches] == ["PPD", "PPD", "IAT", "IAT"]
    assert file.control.entry_addenda_count == 83


@pytest.mark.parametrize("name", VALID_SAMPLES)
def test_valid_sample_round_trips(samples: Path, name: str) -> None:
    """Written back, a sample gives its own bytes, upper-cased.

    The samples carry lower-case text ("Federal Reserve Bank"); the writer emits upper case
    only, so byte equality holds with the upper-cased original, and the structures re-read
    from both are equal.
    """
    data = (samples / name).read_bytes()
    written = write_ach(read_ach(data))
    assert written == data.upper()
    assert read_ach(written) == read_ach(data.upper())
    assert read_ach(written).errors == []


def test_invalid_sample_cannot_be_written(samples: Path) -> None:
    file = read_ach((samples / INVALID_SAMPLE).read_bytes())
    with pytest.raises(AchWriteError) as caught:
        write_ach(file)
    # IAT is read and checked, never written; its addenda (types 10-16) neither.
    assert {e.code for e in caught.value.errors} == {"sec_code"}


# --- generated files ----------------------------------------------------------------------------


def file_header() -> FileHeader:
    return FileHeader(
        immediate_destination="231380104",
        immediate_origin="121042882",
        file_creation_date=date(2025, 3, 14),
        file_creation_time=time(9, 30),
        immediate_destination_name="Federal Reserve Bank",
        immediate_origin_name="HMS Bureau",
        reference_code="ACH0001",
    )


def batch_header(sec: str, name: str = "HMS BUREAU", description: str = "PAYMENT") -> BatchHeader:
    return BatchHeader(
        company_name=name,
        company_identification="1234567890",
        sec_code=sec,
        company_entry_description=description,
        effective_entry_date=date(2025, 3, 17),
        odfi_identification=ODFI,
    )


def entry(code: int, routing: str, amount: int, name: str, **extra: object) -> EntryDetail:
    return EntryDetail(
        transaction_code=code,
        rdfi_routing=routing,
        dfi_account_number=str(extra.pop("account", "123456789")),
        amount=amount,
        receiver_name=name,
        **extra,  # type: ignore[arg-type]
    )


def generated_file() -> AchFile:
    """PPD credits to individuals, CCD to an organisation, and a mixed PPD batch."""
    ppd_credits = Batch(
        header=batch_header("PPD", description="RENT HELP"),
        entries=[
            entry(22, "231380104", 125_000, "Ana Souza", identification_number="C-1001"),
            entry(
                32,
                "031300012",
                99_999,
                "José Müller",
                addenda=[Addenda05("Rent help for March")],
            ),
            entry(23, "121042882", 0, "Prenote Person"),  # prenotification: zero amount
        ],
    )
    ccd_vendor = Batch(
        header=batch_header("CCD", description="VENDOR PAY"),
        entries=[
            entry(
                22,
                "042000013",
                4_500_000,
                "Straße Bau GmbH",
                account="744-5678-99",
                identification_number="INV-77",
                addenda=[Addenda05("INVOICE 77 PAID IN FULL")],
            )
        ],
    )
    mixed = Batch(
        header=batch_header("PPD", description="ADJUST"),
        entries=[
            entry(27, "021200025", 10_000, "Recovered Overpayment"),
            entry(22, "091050234", 20_000, "Corrected Payment"),
            entry(37, "231380104", 1, "Savings Debit"),
        ],
    )
    return AchFile(header=file_header(), batches=[ppd_credits, ccd_vendor, mixed])


def test_generated_file_reads_back_valid() -> None:
    source = generated_file()
    data = write_ach(source)
    file = read_ach(data)
    assert file.errors == []
    assert file == resolve(source) == resolve(file)
    lines = data.decode("ascii").split("\n")
    assert len(lines) % 10 == 0
    assert all(len(line) == 94 for line in lines)
    # 1 header + 3 batch headers + 7 entries + 2 addenda + 3 batch controls + 1 file control.
    assert lines[17:] == ["9" * 94] * 3
    assert lines[16].startswith("9000003000002")


def test_generated_file_controls_add_up() -> None:
    file = read_ach(write_ach(generated_file()))
    entries = [e for b in file.batches for e in b.entries]
    rdfis = [
        "23138010",
        "03130001",
        "12104288",
        "04200001",
        "02120002",
        "09105023",
        "23138010",
    ]
    assert [e.rdfi_identification for e in entries] == rdfis
    assert file.control is not None
    assert file.control.entry_hash == sum(int(r) for r in rdfis) % 10**10
    assert file.control.total_credit == 125_000 + 99_999 + 0 + 4_500_000 + 20_000
    assert file.control.total_debit == 10_000 + 1
    assert file.control.entry_addenda_count == 9
    assert (file.control.batch_count, file.control.block_count) == (3, 2)
    ppd, _, mixed = file.batches
    assert [b.header.service_class_code for b in file.batches] == [220, 220, 200]
    assert [b.header.batch_number for b in file.batches] == [1, 2, 3]
    assert ppd.control is not None
    assert (ppd.control.entry_addenda_count, ppd.control.total_credit) == (4, 224_999)
    assert ppd.control.entry_hash == 23138010 + 3130001 + 12104288
    assert mixed.control is not None
    assert (mixed.control.total_debit, mixed.control.total_credit) == (10_001, 20_000)
    for batch in file.batches:
        traces = [e.trace_number for e in batch.entries]
        assert traces == [f"{ODFI}{i:07d}" for i in range(1, len(traces) + 1)]
    (addenda,) = ppd.entries[1].addenda
    assert isinstance(addenda, Addenda05)
    assert addenda.payment_related_information == "RENT HELP FOR MARCH"
    assert (addenda.sequence_number, addenda.entry_detail_sequence_number) == (1, 2)
    assert (ppd.entries[1].addenda_indicator, ppd.entries[0].addenda_indicator) == (1, 0)


def test_debit_only_batch_gets_service_class_225() -> None:
    source = AchFile(
        header=file_header(),
        batches=[Batch(batch_header("PPD"), [entry(27, "231380104", 5_00, "Debtor")])],
    )
    file = read_ach(write_ach(source))
    assert file.batches[0].header.service_class_code == 225
    assert file.batches[0].control is not None
    assert file.batches[0].control.service_class_code == 225


def test_writing_is_deterministic() -> None:
    source = generated_file()
    untouched = copy.deepcopy(source)
    first = write_ach(source)
    assert write_ach(source) == first
    assert write_ach(copy.deepcopy(untouched)) == first
    assert source == untouched  # the writer fills derived fields in a copy, not in its input


def test_output_format_choices() -> None:
    data = write_ach(generated_file())
    assert b"\r" not in data
    assert not data.endswith(b"\n")  # "\n" between records, none after the last (as the samples)
    text = data.decode("ascii")
    assert text == text.upper()
    assert "JOSE MULLER" in text
    assert "STRASSE BAU GMBH" in text
    first = text.split("\n")[0]
    assert first[3:13] == " 231380104"
    assert first[13:23] == " 121042882"
    assert first[23:33] == "2503140930"


def test_non_ascii_without_transliteration_is_refused() -> None:
    source = generated_file()
    source.batches[0].entries[0].receiver_name = "Ana 🙂"
    source.batches[1].entries[0].receiver_name = "北京建设"
    with pytest.raises(AchWriteError) as caught:
        write_ach(source)
    assert [e.code for e in caught.value.errors] == ["non_ascii", "non_ascii"]


def test_values_too_long_are_refused_not_truncated() -> None:
    source = generated_file()
    source.batches[0].entries[0].receiver_name = "A" * 23
    with pytest.raises(AchWriteError) as caught:
        write_ach(source)
    assert [e.code for e in caught.value.errors] == ["field_too_long"]
    assert fit_text("Ægir Þórsson-Łukasiewicz Ödegaard", 22) == "AEGIR THORSSON-LUKASIE"
    with pytest.raises(ValueError, match="ASCII"):
        fit_text("tab\there", 22)


def test_writer_collects_every_problem() -> None:
    source = generated_file()
    ppd = source.batches[0]
    ppd.entries[0].rdfi_routing = "231380105"  # wrong check digit
    ppd.entries[1].amount = 0  # a live entry without an amount
    ppd.entries[2].amount = 5  # a prenote with one
    ppd.entries[0].addenda = [Addenda05("ONE"), Addenda05("TWO")]
    source.batches[1].header.service_class_code = 225  # credits in a debits-only batch
    source.batches[2].entries[0].transaction_code = 21  # not allowed in PPD
    source.batches[2].entries[1].amount = 200.0  # type: ignore[assignment]  # never floats
    source.batches.append(Batch(batch_header("PPD")))
    with pytest.raises(AchWriteError) as caught:
        write_ach(source)
    assert {e.code for e in caught.value.errors} == {
        "routing_check_digit",
        "amount",
        "addenda",
        "service_class_code",
        "transaction_code",
        "empty_batch",
    }
    assert [e.code for e in caught.value.errors].count("amount") == 3


def test_writer_refuses_other_sec_codes_and_addenda() -> None:
    source = generated_file()
    source.batches[0].header.sec_code = "WEB"
    source.batches[1].entries[0].addenda = [OtherAddenda("10", "710" + " " * 91)]
    with pytest.raises(AchWriteError) as caught:
        write_ach(source)
    assert [e.code for e in caught.value.errors].count("sec_code") == 2


def test_writer_ignores_stale_controls() -> None:
    """A file read, changed and written again gets fresh controls."""
    file = read_ach(write_ach(generated_file()))
    file.batches[0].entries[0].amount += 1
    again = read_ach(write_ach(file))
    assert again.errors == []
    assert again.control is not None
    assert again.control.total_credit == 125_000 + 99_999 + 4_500_000 + 20_000 + 1


# --- the reader collects every problem ----------------------------------------------------------


def lines_of(file: AchFile) -> list[str]:
    return write_ach(file).decode("ascii").split("\n")


def test_reader_reports_every_problem_with_its_line() -> None:
    lines = lines_of(generated_file())
    # Only the check digit changes: the entry hash (of 8-digit ids) still adds up.
    lines[2] = lines[2][:3] + "231380105" + lines[2][12:]  # RDFI check digit (line 3)
    lines[5] = lines[5][:79] + "121042880000001"  # trace does not ascend (line 6)
    lines[7] = "5225" + lines[7][4:]  # debits only, but the CCD batch credits (line 8)
    lines[9] += " "  # 95 characters (line 10)
    lines[12] = lines[12][:60] + "ü" + lines[12][61:]  # not ASCII, in a name (line 13)
    lines[17] = "9" * 93 + "8"  # padding that is not all 9s (line 18)
    file = read_ach("\n".join(lines).encode("latin-1"))
    assert {(e.code, e.line) for e in file.errors} == {
        ("routing_check_digit", 3),
        ("trace_number_order", 6),
        ("service_class_code", 8),
        ("record_length", 10),
        ("batch_control_mismatch", 11),  # the CCD batch control still says 220
        ("non_ascii", 13),
        ("padding", 18),
    }
    assert [e.line for e in file.errors] == sorted(e.line or 0 for e in file.errors)


def test_reader_reports_record_order_and_missing_records() -> None:
    lines = lines_of(generated_file())
    header, body = lines[0], lines[1:16]
    shuffled = [body[2], header, *body[:5], *body[6:]]  # entry first; batch 1 control dropped
    file = read_ach("\n".join(shuffled).encode())
    assert {"record_order", "missing_batch_control", "blocking", "missing_file_header"} <= codes(
        file
    )
    empty = read_ach(b"")
    assert codes(empty) == {"missing_file_header", "missing_file_control"}


def test_reader_checks_block_count_and_excess_padding() -> None:
    lines = lines_of(generated_file())
    lines.extend(["9" * 94] * 10)
    assert codes(read_ach("\n".join(lines).encode())) == {"blocking"}
    lines = lines_of(generated_file())
    lines[16] = lines[16][:7] + "000003" + lines[16][13:]
    assert codes(read_ach("\n".join(lines).encode())) == {"block_count"}


def test_reader_accepts_crlf_trailing_newline_and_unbroken_records() -> None:
    data = write_ach(generated_file())
    expected = read_ach(data)
    assert read_ach(data.replace(b"\n", b"\r\n") + b"\r\n") == expected
    assert read_ach(data + b"\n").errors == []
    unbroken = read_ach(data.replace(b"\n", b""))
    assert unbroken == expected
    assert unbroken.errors == []


def test_reader_reports_unreadable_fields() -> None:
    lines = lines_of(generated_file())
    lines[1] = lines[1][:69] + "251399" + lines[1][75:]  # effective date: month 13
    lines[2] = lines[2][:29] + "00001250O0" + lines[2][39:]  # letter O in the amount
    file = read_ach("\n".join(lines).encode())
    assert ("field_format", 2) in {(e.code, e.line) for e in file.errors}
    assert ("required_field", 2) in {(e.code, e.line) for e in file.errors}
    assert ("field_format", 3) in {(e.code, e.line) for e in file.errors}


def test_validate_a_structure_before_writing() -> None:
    source = generated_file()
    assert validate(resolve(source)) == []
    source.batches[0].entries[0].trace_number = "999999990000001"  # not this ODFI's
    source.batches[2].header.batch_number = 1  # does not ascend after batch 2
    assert {e.code for e in validate(resolve(source))} == {"trace_number", "batch_number_order"}


# --- routing numbers and account masks ----------------------------------------------------------


@pytest.mark.parametrize("routing", SAMPLE_ROUTINGS)
def test_sample_routing_numbers_are_valid(routing: str) -> None:
    assert routing_number_is_valid(routing)
    assert routing_check_digit(routing[:8]) == routing[8]


@pytest.mark.parametrize("routing", SAMPLE_ROUTINGS)
def test_any_changed_digit_fails_the_checksum(routing: str) -> None:
    for position in range(9):
        for digit in "0123456789":
            if digit != routing[position]:
                changed = routing[:position] + digit + routing[position + 1 :]
                assert not routing_number_is_valid(changed), changed


FULLWIDTH_ROUTING = "".join(chr(0xFF10 + int(d)) for d in "231380104")  # str.isdigit says yes


@pytest.mark.parametrize(
    "routing",
    [
        "",
        "23138010",
        "2313801040",
        " 23138010",
        "23138010a",
        FULLWIDTH_ROUTING,
        "000000000",
    ],
)
def test_malformed_routing_numbers_are_invalid(routing: str) -> None:
    assert not routing_number_is_valid(routing)


def test_swapped_digits_fail_the_checksum() -> None:
    assert not routing_number_is_valid("213380104")


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("123456789", "****6789"),
        ("744-5678-99", "****8-99"),
        ("  12345678901234567 ", "****4567"),
        ("12345", "****2345"),
        ("1234", "****"),
        ("", "****"),
    ],
)
def test_mask_account_number(number: str, masked: str) -> None:
    assert mask_account_number(number) == masked


# --- properties ---------------------------------------------------------------------------------

DIGITS = "0123456789"
TEXT = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -.&/"

routings = (
    st.text(DIGITS, min_size=8, max_size=8)
    .filter(lambda s: s != "00000000")
    .map(lambda s: s + routing_check_digit(s))
)


def words(max_size: int) -> st.SearchStrategy[str]:
    return st.text(TEXT, min_size=1, max_size=max_size).map(str.strip).filter(bool)


entries = st.builds(
    EntryDetail,
    transaction_code=st.sampled_from([22, 27, 32, 37]),
    rdfi_routing=routings,
    dfi_account_number=st.text(DIGITS + "ABCXYZ-", min_size=1, max_size=17),
    amount=st.integers(1, MAX_AMOUNT),
    receiver_name=words(22),
    identification_number=st.text(DIGITS + "ABC", max_size=15),
    addenda=st.lists(st.builds(Addenda05, words(80)), max_size=1),
)
batches = st.builds(
    Batch,
    header=st.builds(
        BatchHeader,
        company_name=words(16),
        company_identification=st.text(DIGITS, min_size=10, max_size=10),
        sec_code=st.sampled_from(["PPD", "CCD"]),
        company_entry_description=words(10),
        effective_entry_date=st.dates(date(2000, 1, 1), date(2099, 12, 31)),
        odfi_identification=st.text(DIGITS, min_size=8, max_size=8),
    ),
    entries=st.lists(entries, min_size=1, max_size=12),
)
files = st.builds(AchFile, header=st.just(file_header()), batches=st.lists(batches, max_size=4))
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(files)
def test_any_valid_file_reads_back_valid_with_equal_totals(source: AchFile) -> None:
    data = write_ach(source)
    file = read_ach(data)
    assert file.errors == []
    assert file == resolve(source)
    lines = data.split(b"\n")
    assert len(lines) % 10 == 0
    assert {len(line) for line in lines} == {94}
    entries = [e for b in source.batches for e in b.entries]
    assert file.control is not None
    credits = [e.amount for e in entries if e.transaction_code in {22, 32}]
    debits = [e.amount for e in entries if e.transaction_code in {27, 37}]
    assert (file.control.total_credit, file.control.total_debit) == (sum(credits), sum(debits))
    assert file.control.entry_hash == sum(int(e.rdfi_routing[:8]) for e in entries) % 10**10


@PROPERTY
@given(files.filter(lambda f: bool(f.batches)), st.data())
def test_tampered_amount_is_reported(source: AchFile, data: st.DataObject) -> None:
    lines = write_ach(source).decode("ascii").split("\n")
    entry_lines = [i for i, line in enumerate(lines) if line.startswith("6")]
    index = data.draw(st.sampled_from(entry_lines))
    line = lines[index]
    old = int(line[29:39])
    new = data.draw(st.integers(1, MAX_AMOUNT).filter(lambda n: n != old))
    lines[index] = f"{line[:29]}{new:010d}{line[39:]}"
    file = read_ach("\n".join(lines).encode("ascii"))
    side = "total_credit" if line[1:3] in {"22", "32"} else "total_debit"
    assert codes(file) == {side}
    batch_control = next(i for i in range(index, len(lines)) if lines[i].startswith("8"))
    file_control = next(i for i in range(index, len(lines)) if lines[i].startswith("9"))
    assert [e.line for e in file.errors] == [batch_control + 1, file_control + 1]


def test_tampered_rdfi_is_reported_as_an_entry_hash_mismatch() -> None:
    lines = lines_of(generated_file())
    lines[2] = lines[2][:3] + "031300012" + lines[2][12:]  # another valid routing number
    file = read_ach("\n".join(lines).encode())
    assert codes(file) == {"entry_hash"}
    assert [e.line for e in file.errors] == [7, 17]


def test_dataclass_line_numbers_do_not_affect_equality() -> None:
    file = read_ach(write_ach(generated_file()))
    moved = dataclasses.replace(file.batches[0].header, line=99)
    assert moved == file.batches[0].header
