"""Bank statements: the shipped samples match the demo, hostile files are refused with one sentence, and
property tests over generated and random files."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from services import settlements
from services.demo import seed_payments
from services.models import AuditEntry
from services.money import format_amount
from services.permissions import Role
from services.settlements import StatementError, read_statement
from tests.data import bank_statement as sample
from tests.factories import make_db, make_staff

DATA = Path(__file__).resolve().parents[1] / "data"


def _xlsx(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode()


HEADER: list[object] = ["Date", "Description", "Debit", "Credit", "Balance"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    """The cache of ``python -m dashboard demo --anchor 2026-11-26 --payments 1500`` (the samples' demo)."""
    engine = make_db(tmp_path_factory.mktemp("statement"))
    seed_payments(engine, sample.SAMPLE_ANCHOR, count=1500)
    return engine, make_staff(engine, Role.FINANCE)


def test_csv_and_xlsx_samples_read_the_same() -> None:
    from_csv = read_statement(sample.SAMPLE_CSV.read_bytes(), "statement.csv")
    from_xlsx = read_statement(sample.SAMPLE_XLSX.read_bytes(), "statement.xlsx")
    assert [(x.day, x.description, x.amount_fils) for x in from_csv.lines] == \
           [(x.day, x.description, x.amount_fils) for x in from_xlsx.lines]
    assert from_csv.skipped == 1  # the salary debit
    assert len(from_csv.upayments_lines) == len(from_csv.lines) - 1  # one credit is from someone else


@pytest.mark.parametrize("name", ["bank_statement_sample.csv", "bank_statement_sample.xlsx"])
def test_sample_matches_the_demo_data(demo, name: str) -> None:
    engine, finance = demo
    today = date(2026, 11, 29)
    result = settlements.match_statement(engine, finance, (DATA / name).read_bytes(), name, tolerance_fils=0,
                                         overdue_after=2, today=today)
    by_status: dict[str, list[settlements.MatchLine]] = {}
    for line in result.lines:
        by_status.setdefault(line.status, []).append(line)
    assert len(by_status[settlements.MATCHED]) == 19  # 17 days in one credit, one day in two (KNET + cards)
    [short] = by_status[settlements.PARTLY]
    assert short.day == date(2026, 11, 4) and short.difference_fils == -sample.SHORT_FILS
    [stray] = by_status[settlements.UNMATCHED]
    assert stray.day == date(2026, 11, 6) and stray.description == "UPAYMENTS ADJ =1+1"  # a Friday
    [missing] = by_status[settlements.MISSING]
    assert missing.day == date(2026, 11, 23)  # the demo's held (overdue) day never reached the bank
    assert [m.description for m in by_status[settlements.NOT_UPAYMENTS]] == ["TRANSFER FROM AL-ROUMI TRADING"]
    # With a tolerance of 5.000 KWD the short day matches too.
    wider = settlements.match_statement(engine, finance, (DATA / name).read_bytes(), name, tolerance_fils=5_000,
                                        overdue_after=2, today=today)
    assert wider.count(settlements.PARTLY) == 0 and wider.count(settlements.MATCHED) == 20


def test_the_samples_are_what_the_generator_makes_for_the_demo(demo) -> None:
    engine, _ = demo
    lines = sample.build(engine, sample.SAMPLE_FIRST, sample.SAMPLE_ANCHOR, date(2026, 11, 29))
    assert sample.csv_bytes(lines) == sample.SAMPLE_CSV.read_bytes()


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"Date,Narrative\n2026-11-01,UPAYMENTS\n", "s.csv", "must name the columns Date, Description and Credit"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "s.csv", "not a text CSV"),
    (b"Date,Description,Credit\n2026-11-01,UPAYMENTS,1.000\n" + b"x" * (3 * 1024 * 1024), "s.csv", "MB"),
    (b"Date,Description,Credit\n2026-11-01,UPAYMENTS,=SUM(A1:A9)\n", "s.csv", "Row 2 contains a formula"),
    (b"Date,Description,Credit\n=HYPERLINK(\"http://x\"),UPAYMENTS,1.000\n", "s.csv", "formula"),
    (b"Date,Description,Credit\nNov 1 2026,UPAYMENTS,1.000\n", "s.csv", "Row 2: 'Nov 1 2026' is not a date"),
    (b"Date,Description,Credit\n11/31/2026,UPAYMENTS,1.000\n", "s.csv", "not a date"),
    (b"Date,Description,Credit\n2026-11-01,UPAYMENTS,\"1,23,4.000\"\n", "s.csv", "is not an amount"),
    (b"Date,Description,Credit\n2026-11-01,UPAYMENTS,1.2345\n", "s.csv", "Row 2:"),
    (b"Date,Description,Credit\n2026-11-01,UPAYMENTS,12.5 USD\n", "s.csv", "is not an amount"),
    ("Date,Description,Credit\n2026-11-01,UPAYMENTS,1.000\n".encode("utf-16"), "s.csv", "not a text CSV"),
    (b"\xff\xfe\xfa not utf8", "s.csv", "not UTF-8"),
    (b"PK\x03\x04 broken zip", "s.xlsx", "not a readable XLSX"),
    (b"%PDF-1.7", "statement.pdf", "Only CSV and XLSX"),
    (b"   \n", "s.csv", "empty"),
])
def test_bad_files_get_one_clear_sentence(data: bytes, name: str, message: str) -> None:
    with pytest.raises(StatementError, match=message):
        read_statement(data, name)


def test_xlsx_formula_and_too_many_rows_are_refused() -> None:
    with pytest.raises(StatementError, match="Row 2 contains a formula"):
        read_statement(_xlsx([HEADER, [datetime(2026, 11, 1), "UPAYMENTS", None, "=1+1", None]]), "s.xlsx")
    rows = [[str(h) for h in HEADER]] + [["2026-11-01", "UPAYMENTS", "", "1.000", ""]] * 5_001
    with pytest.raises(StatementError, match="more than 5,000 rows"):
        read_statement(_csv(rows), "s.csv")


def test_arabic_indic_digits_thousands_separators_and_day_first_dates() -> None:
    data = _csv([[str(h) for h in HEADER], ["٠١/١١/٢٠٢٦", "UPAYMENTS SETTLEMENT", "", "١٬٢٣٤٫٥٠٠", ""],
                 ["02-11-2026", "UPAYMENTS SETTLEMENT", "", "1,234.500", ""],
                 ["2026-11-03", "UPAYMENTS", "", "12.5", ""]])
    lines = read_statement(data, "s.csv").lines
    assert [(x.day, x.amount_fils) for x in lines] == [
        (date(2026, 11, 1), 1_234_500), (date(2026, 11, 2), 1_234_500), (date(2026, 11, 3), 12_500)]


def test_semicolon_csv_and_signed_amount_column() -> None:
    data = b"Value date;Narrative;Amount\n2026-11-01;UPAYMENTS;250.000\n2026-11-02;RENT;-900.000\n"
    statement = read_statement(data, "s.csv")
    assert [(x.day, x.amount_fils) for x in statement.lines] == [(date(2026, 11, 1), 250_000)]
    assert statement.skipped == 1


def test_a_refused_file_records_nothing(demo) -> None:
    engine, finance = demo
    with Session(engine) as session:
        before = len(session.exec(select(AuditEntry)).all())
    with pytest.raises(StatementError):
        settlements.match_statement(engine, finance, b"Date,Description,Credit\n2026-11-01,UPAY,=1\n", "s.csv",
                                    tolerance_fils=0, overdue_after=2)
    with Session(engine) as session:
        assert len(session.exec(select(AuditEntry)).all()) == before


# ------------------------------------------------------------------ properties

amounts = st.integers(min_value=1, max_value=10**9)
days = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))
texts = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=80).filter(
    lambda t: not t.lstrip().startswith("="))
printable = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=80).filter(
    lambda t: not t.lstrip().startswith("="))


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(days, printable, amounts, st.booleans(), st.sampled_from(["iso", "dmy", "xlsx"])),
                     min_size=1, max_size=15))
def test_generated_statements_read_back_exactly(rows: list[tuple[date, str, int, bool, str]]) -> None:
    as_xlsx = rows[0][4] == "xlsx"
    table: list[list[object]] = [HEADER]
    for day, text, fils, grouped, style in rows:
        amount = format_amount(fils, grouping=grouped)
        when: object = (datetime(day.year, day.month, day.day) if as_xlsx
                        else day.isoformat() if style == "iso" else day.strftime("%d/%m/%Y"))
        table.append([when, text, None if as_xlsx else "", amount, None if as_xlsx else ""])
    data = _xlsx(table) if as_xlsx else _csv([[str(c) for c in r] for r in table])
    got = read_statement(data, "s.xlsx" if as_xlsx else "s.csv")
    assert [(x.day, x.amount_fils) for x in got.lines] == [(d, f) for d, _, f, _, _ in rows]
    assert [x.description for x in got.lines] == [t.strip() for _, t, _, _, _ in rows]


@settings(max_examples=200)
@given(data=st.binary(max_size=2_000), name=st.sampled_from(["s.csv", "s.xlsx", "s", "s.txt"]))
def test_random_bytes_never_escape_as_anything_but_a_statement_error(data: bytes, name: str) -> None:
    try:
        statement = read_statement(data, name)
    except StatementError as exc:
        assert str(exc).endswith((".", "!")) and "\n" not in str(exc)
    else:
        assert all(x.amount_fils > 0 for x in statement.lines)


@settings(max_examples=150)
@given(cells=st.lists(st.lists(st.one_of(texts, st.decimals(allow_nan=False, allow_infinity=False, places=4)
                                         .map(str)), min_size=1, max_size=5), max_size=10))
def test_random_csv_tables_are_read_or_refused_cleanly(cells: list[list[str]]) -> None:
    data = _csv([["Date", "Description", "Credit"], *cells])
    try:
        statement = read_statement(data, "s.csv")
    except StatementError:
        return
    for line in statement.lines:
        assert line.amount_fils > 0 and isinstance(line.day, date)
        assert Decimal(line.amount_fils).scaleb(-3) > 0
