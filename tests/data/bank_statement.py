"""Build a bank statement (CSV and XLSX, a Kuwaiti bank's layout) whose UPayments credits are a demo's deposits.

The shipped samples ``bank_statement_sample.csv`` / ``.xlsx`` are this script's output for the demo started with
``python -m dashboard demo --anchor 2026-11-26 --payments 1500`` (deposit days 1–26 November 2026)::

    python -m tests.data.bank_statement --anchor 2026-11-26 --payments 1500 --first 2026-11-01 --last 2026-11-26

What the statement holds, so a match shows every outcome: one UPayments credit per deposited day, except one day
the bank booked in two credits (KNET separately: matched as a sum), one day 5.000 KWD short (partly matched), the
demo's held day (not deposited: missing from the statement), plus a stray UPayments credit on a Friday
(unmatched), a salary debit and a credit from someone else (ignored).
"""

from __future__ import annotations

import argparse
import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from services import calendar
from services.money import format_amount
from services.settlements.report import DayRow, settlement

HERE = Path(__file__).resolve().parent
SAMPLE_CSV = HERE / "bank_statement_sample.csv"
SAMPLE_XLSX = HERE / "bank_statement_sample.xlsx"
SAMPLE_ANCHOR = date(2026, 11, 26)
SAMPLE_FIRST = date(2026, 11, 1)
HEADER = ("Date", "Description", "Debit", "Credit", "Balance")
SHORT_FILS = 5_000


@dataclass(frozen=True)
class Line:
    day: date
    description: str
    debit: int
    credit: int


def statement_lines(days: list[DayRow]) -> list[Line]:
    """The statement for these deposit days (only deposited days appear as UPayments credits)."""
    lines: list[Line] = []
    paid = sorted((d for d in days if d.deposited_fils > 0 and d.pending_payments == 0), key=lambda d: d.day)
    for index, d in enumerate(paid):
        ref = f"UPAYMENTS SETTLEMENT {d.day.strftime('%d%m%y')}"
        if index == 1 and 0 < d.expected_by_family["knet"] < d.expected_fils:
            knet = d.expected_by_family["knet"]
            lines += [Line(d.day, ref + " KNET", 0, knet), Line(d.day, ref + " CARDS", 0, d.expected_fils - knet)]
        elif index == 3 and d.expected_fils > SHORT_FILS:
            lines.append(Line(d.day, ref, 0, d.expected_fils - SHORT_FILS))
        else:
            lines.append(Line(d.day, ref, 0, d.expected_fils))
    if paid:
        first = paid[0].day
        friday = first + timedelta(days=(4 - first.weekday()) % 7)
        lines.append(Line(friday, "UPAYMENTS ADJ =1+1", 0, 1_250))  # text, not a formula: the cell is quoted
        lines.append(Line(first, "SALARY TRANSFER - STAFF", 1_450_000, 0))
        lines.append(Line(first + timedelta(days=1), "TRANSFER FROM AL-ROUMI TRADING", 0, 75_500))
    return sorted(lines, key=lambda line: (line.day, line.description))


def _rows(lines: list[Line]) -> list[list[str]]:
    balance = 12_000_000
    out = []
    for line in lines:
        balance += line.credit - line.debit
        out.append([line.day.strftime("%d/%m/%Y"), line.description,
                    format_amount(line.debit, grouping=True) if line.debit else "",
                    format_amount(line.credit, grouping=True) if line.credit else "",
                    format_amount(balance, grouping=True)])
    return out


def csv_bytes(lines: list[Line]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in _rows(lines):
        writer.writerow(row)
    return buf.getvalue().encode("utf-8")


def xlsx_bytes(lines: list[Line]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(HEADER))
    balance = 12_000_000
    for line in lines:
        balance += line.credit - line.debit
        # Real spreadsheet dates; amounts as text with 3 decimals (exact, as banks export them).
        sheet.append([datetime(line.day.year, line.day.month, line.day.day), line.description,
                      format_amount(line.debit) if line.debit else None,
                      format_amount(line.credit) if line.credit else None, format_amount(balance)])
    buf = io.BytesIO()
    book.properties.created = datetime(2026, 11, 27)  # byte-stable output
    book.properties.modified = datetime(2026, 11, 27)
    book.save(buf)
    return buf.getvalue()


def build(engine: Engine, first: date, last: date, today: date) -> list[Line]:
    """The statement for the cache behind ``engine`` (deposit days ``first``..``last``)."""
    return statement_lines(settlement(engine, first, last, today=today, overdue_after=2).days)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--anchor", type=date.fromisoformat, default=SAMPLE_ANCHOR)
    parser.add_argument("--payments", type=int, default=1500)
    parser.add_argument("--first", type=date.fromisoformat, default=SAMPLE_FIRST)
    parser.add_argument("--last", type=date.fromisoformat, default=SAMPLE_ANCHOR)
    args = parser.parse_args()
    import tempfile

    from services.db import create_schema, make_engine, sqlite_url
    from services.demo import seed_payments

    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(sqlite_url(Path(folder) / "s.db"))
        create_schema(engine)
        seed_payments(engine, args.anchor, count=args.payments)
        lines = build(engine, args.first, args.last, calendar.next_business_day(args.anchor))
        engine.dispose()
    SAMPLE_CSV.write_bytes(csv_bytes(lines))
    SAMPLE_XLSX.write_bytes(xlsx_bytes(lines))
    print(f"{len(lines)} lines → {SAMPLE_CSV.name}, {SAMPLE_XLSX.name}")


if __name__ == "__main__":
    main()
