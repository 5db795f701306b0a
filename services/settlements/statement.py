"""Reading a bank statement the shop downloaded (CSV or XLSX) into credit lines, refusing anything doubtful.

The file is untrusted data: it is read, never executed or rendered as markup, and a file that cannot be read
exactly raises :class:`StatementError` with one sentence naming the row and what to fix — nothing is stored
from a refused file. XLSX is read with openpyxl (pinned), CSV with the ``csv`` module.

Accepted: a header row naming a date column (``Date``, ``Value date``, ``Transaction date``, ``Posting date``),
a description (``Description``, ``Narrative``, ``Details``, ``Particulars``) and either a ``Credit`` column or a
signed ``Amount`` column; dates as ``YYYY-MM-DD``, ``DD/MM/YYYY`` or ``DD-MM-YYYY`` (Kuwaiti banks write the
day first) or real spreadsheet dates; amounts in KWD with at most 3 decimals, thousands separators (``1,234.500``)
and Arabic-Indic digits (``١٢٫٥٠٠``) allowed. Refused: formulas, binary or non-UTF-8 text, more than
:data:`MAX_BYTES` or :data:`MAX_ROWS`, other date formats, malformed amounts.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from services.money import InvalidAmount, parse_amount
from services.sentence import Count, say, sentence_of

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5_000
MAX_DESCRIPTION = 300
#: Words that mark a credit from UPayments in the description (case-insensitive).
UPAYMENTS_WORDS = ("upayments", "upay", "u payments")

_DATE_NAMES = ("date", "value date", "transaction date", "posting date", "txn date")
_DESCRIPTION_NAMES = ("description", "narrative", "details", "particulars", "transaction details")
_CREDIT_NAMES = ("credit", "credit amount", "deposit", "deposits", "credit (kwd)")
_AMOUNT_NAMES = ("amount", "amount (kwd)")
_ARABIC_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹٫٬", "01234567890123456789.,")
_GROUPED = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
_PLAIN = re.compile(r"^-?\d+(\.\d+)?$")
_DMY = re.compile(r"^(\d{1,2})[/-](\d{1,2})[/-](\d{4})$")


class StatementError(ValueError):
    """The file cannot be used; ``str()`` says why and what to do, naming the row when it is one row."""


@dataclass(frozen=True)
class StatementLine:
    """One credit line of the statement (debits and zero lines are skipped)."""

    row: int  # 1-based row number in the file, header included
    day: date
    description: str
    amount_fils: int
    upayments: bool  # the description names UPayments


@dataclass(frozen=True)
class Statement:
    lines: list[StatementLine]
    skipped: int  # debit or empty rows

    @property
    def upayments_lines(self) -> list[StatementLine]:
        return [line for line in self.lines if line.upayments]


def read_statement(data: bytes, filename: str) -> Statement:
    """Parse an uploaded statement; :class:`StatementError` for anything that is not a readable statement."""
    if not isinstance(data, bytes | bytearray):
        raise StatementError(say("No file was received; choose the statement file again."))
    if len(data) > MAX_BYTES:
        raise StatementError(say("The file is {size} MB; statements up to {limit} MB can be read — download a "
                                 "shorter period.", size=f"{len(data) / 1_048_576:.1f}",
                                 limit=Count(MAX_BYTES // 1_048_576)))
    if not data.strip():
        raise StatementError(say("The file is empty; download the statement from your bank again."))
    name = (filename or "").lower()
    if data[:4] == b"PK\x03\x04" or name.endswith((".xlsx", ".xlsm")):
        rows = _xlsx_rows(bytes(data))
    elif name.endswith((".csv", ".txt")) or not name:
        rows = _csv_rows(bytes(data))
    else:
        raise StatementError(say("Only CSV and XLSX statements can be read; save the statement as one of them."))
    return _lines(rows)


def _csv_rows(data: bytes) -> list[list[Any]]:
    if b"\x00" in data:
        raise StatementError(say("The file is not a text CSV (it contains binary data); export the statement as CSV "
                             "or XLSX."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise StatementError(say("The CSV is not UTF-8 text; export it again as CSV UTF-8 (or as XLSX).")) from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise StatementError(say("The CSV is malformed ({detail}); export the statement again.",
                                 detail=str(exc))) from None
    return [list(r) for r in rows]


def _xlsx_rows(data: bytes) -> list[list[Any]]:
    import openpyxl  # only when an XLSX arrives
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError):
        raise StatementError(say("The file is not a readable XLSX workbook; save it again from Excel as .xlsx, or "
                             "export CSV.")) from None
    except Exception:  # openpyxl raises many types on corrupt workbooks; all mean the same to the shop
        raise StatementError(say("The XLSX workbook is damaged and cannot be read; export the statement "
                                 "again.")) from None
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            raise StatementError(say("The workbook has no sheet; export the statement again."))
        rows: list[list[Any]] = []
        for index, cells in enumerate(sheet.iter_rows(), start=1):
            if index > MAX_ROWS + 1:
                raise StatementError(say("The statement has more than {limit} rows; download a shorter period.",
                                         limit=f"{MAX_ROWS:,}"))
            values = []
            for cell in cells:
                if getattr(cell, "data_type", None) == "f":
                    raise StatementError(say("Row {row} contains a formula; statements must hold values only — "
                                             "export the statement from the bank again.", row=index))
                values.append(cell.value)
            rows.append(values)
        return rows
    finally:
        book.close()


def _header_index(header: list[Any]) -> tuple[int, int, int | None, int | None]:
    names = [str(h or "").strip().lower() for h in header]

    def find(options: tuple[str, ...]) -> int | None:
        return next((i for i, n in enumerate(names) if n in options), None)

    day, description, credit, amount = (find(_DATE_NAMES), find(_DESCRIPTION_NAMES), find(_CREDIT_NAMES),
                                        find(_AMOUNT_NAMES))
    if day is None or description is None or (credit is None and amount is None):
        shown = ", ".join(n for n in names if n)[:120] or "none"
        raise StatementError(say("The first row must name the columns Date, Description and Credit (or Amount); "
                                 "this file has: {columns}.", columns=shown))
    return day, description, credit, amount


def _lines(rows: list[list[Any]]) -> Statement:
    rows = [r for r in rows if any(str(c or "").strip() for c in r)]
    if not rows:
        raise StatementError(say("The file has no rows; download the statement from your bank again."))
    if len(rows) > MAX_ROWS + 1:
        raise StatementError(say("The statement has more than {limit} rows; download a shorter period.",
                                 limit=f"{MAX_ROWS:,}"))
    day_i, desc_i, credit_i, amount_i = _header_index(rows[0])
    lines: list[StatementLine] = []
    skipped = 0
    for number, row in enumerate(rows[1:], start=2):
        for cell in row:
            if isinstance(cell, str) and cell.lstrip().startswith("="):
                raise StatementError(say("Row {row} contains a formula ({value}); statements must hold values only.",
                                         row=number, value=repr(cell.strip()[:20])))
        raw_amount = _at(row, credit_i) if credit_i is not None else _at(row, amount_i)
        amount = _amount(raw_amount, number)
        if amount is None or amount <= 0:
            skipped += 1
            continue
        description = _description(_at(row, desc_i), number)
        lines.append(StatementLine(number, _date(_at(row, day_i), number), description, amount,
                                   any(w in description.lower() for w in UPAYMENTS_WORDS)))
    return Statement(lines, skipped)


def _at(row: list[Any], index: int | None) -> Any:
    return row[index] if index is not None and index < len(row) else None


def _description(value: Any, row: int) -> str:
    text = "" if value is None else str(value)
    text = re.sub(r"[\x00-\x1f\x7f]", " ", text).strip()
    if len(text) > MAX_DESCRIPTION:
        raise StatementError(say("Row {row}: the description is longer than {limit} characters.", row=row,
                                 limit=Count(MAX_DESCRIPTION)))
    return text


def _date(value: Any, row: int) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value or "").strip().translate(_ARABIC_DIGITS)
    if not text:
        raise StatementError(say("Row {row} has no date.", row=row))
    try:
        return date.fromisoformat(text[:10]) if re.match(r"^\d{4}-\d{2}-\d{2}( |T|$)", text) else _dmy(text)
    except ValueError:
        raise StatementError(say("Row {row}: {value} is not a date this reader accepts; use YYYY-MM-DD or "
                                 "DD/MM/YYYY.", row=row, value=repr(text[:20]))) from None


def _dmy(text: str) -> date:
    match = _DMY.match(text)
    if match is None:
        raise ValueError(text)
    day, month, year = (int(g) for g in match.groups())
    return date(year, month, day)


def _amount(value: Any, row: int) -> int | None:
    """Fils, or None for an empty cell; negative for a debit in a signed Amount column."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise StatementError(say("Row {row}: the amount is not a number.", row=row))
    if isinstance(value, int):
        value = Decimal(value)
    elif isinstance(value, float):
        value = Decimal(repr(value))  # a spreadsheet number as it was typed, then checked for 3 decimals
    if isinstance(value, Decimal):
        text = format(value, "f")
    else:
        text = str(value).strip().translate(_ARABIC_DIGITS).replace(" ", "").removesuffix("KWD").strip()
    if not text:
        return None
    if _GROUPED.match(text):
        text = text.replace(",", "")
    elif not _PLAIN.match(text):
        raise StatementError(say("Row {row}: {value} is not an amount; write amounts like 1234.500 or 1,234.500.",
                                 row=row, value=repr(str(value)[:20])))
    negative = text.startswith("-")
    try:
        fils = parse_amount(text.lstrip("-"), allow_zero=True)
    except InvalidAmount as exc:
        raise StatementError(say("Row {row}: {problem}", row=row, problem=sentence_of(exc))) from None
    return -fils if negative else fils
