"""Format detection and value normalisation for CSV exports: encoding, delimiter, decimal style."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

UTF8 = "utf-8"
UTF8_WITH_BOM = "utf-8-sig"
UTF16 = "utf-16"
WINDOWS_LATIN = "cp1252"
LATIN1 = "latin-1"
BYTE_ORDER_MARK = "\ufeff"
# Bytes 0x80-0x9F are C1 controls in Latin-1 but letters and symbols (€, “, ”) in cp1252;
# a single-byte file without them reads the same in both, and we call it Latin-1.
CP1252_ONLY_BYTES = re.compile(rb"[\x80-\x9f]")

DELIMITER_CANDIDATES = (",", ";", "\t", "|")
SAMPLE_CHARS = 16_384
SAMPLE_RECORDS = 200
DECIMAL_EVIDENCE = 10_000

PLAIN_DECIMAL = "."
BRAZILIAN_DECIMAL = ","
DECIMAL_STYLES = (PLAIN_DECIMAL, BRAZILIAN_DECIMAL)
MONEY_TYPE_PREFIX = "decimal"
DATE_TYPE = "date"
INT_TYPES = frozenset({"int", "bigint", "smallint", "long"})

# `1234.56`, `-12`, `+0.5`
PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?", re.ASCII)
# `1.234,56`, `1234,56`, `-12,5`, `1.234` (thousands dots in groups of three)
BRAZILIAN_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?", re.ASCII)
BRAZILIAN_DATE = re.compile(r"(\d{2})/(\d{2})/(\d{4})", re.ASCII)
UNDECODABLE_CHARS = re.compile("[\udc80-\udcff]")


class UnreadableEncodingError(ValueError):
    """The bytes cannot be decoded with the requested encoding, not even row by row."""


# --- encoding ------------------------------------------------------------------------------


def detect_encoding(data: bytes) -> str:
    """The whole file's encoding: UTF-8 (with or without BOM) when valid, else cp1252/Latin-1."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and _decodes(data, UTF16):
        return UTF16
    if _decodes(data, UTF8_WITH_BOM):
        return UTF8_WITH_BOM if data.startswith(codecs.BOM_UTF8) else UTF8
    if CP1252_ONLY_BYTES.search(data) and _decodes(data, WINDOWS_LATIN):
        return WINDOWS_LATIN
    return LATIN1


def decode(data: bytes, encoding: str) -> tuple[str, bool]:
    """The text and whether some bytes were not valid (kept as lone surrogates, see `printable`).

    Raises LookupError for an unknown encoding and UnreadableEncodingError when the codec
    cannot even escape the bad bytes.
    """
    codecs.lookup(encoding)
    try:
        text, lossy = data.decode(encoding), False
    except UnicodeDecodeError:
        try:
            text, lossy = data.decode(encoding, "surrogateescape"), True
        except UnicodeDecodeError as exc:
            raise UnreadableEncodingError(str(exc)) from None
    return text.removeprefix(BYTE_ORDER_MARK), lossy


def has_undecodable(text: str) -> bool:
    return UNDECODABLE_CHARS.search(text) is not None


def printable(text: str, encoding: str) -> str:
    """Text decoded with `surrogateescape`, its bad bytes shown as `\\xNN` escapes."""
    try:
        return text.encode(encoding, "surrogateescape").decode(encoding, "backslashreplace")
    except (UnicodeError, LookupError):
        return text.encode(UTF8, "backslashreplace").decode(UTF8)


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


# --- delimiter -----------------------------------------------------------------------------


def detect_delimiter(text: str, column_names: Sequence[str], *, header: bool) -> str:
    """The delimiter among `, ; TAB |`: csv.Sniffer's guess, checked by counting on a sample.

    Counting parses the sample with each candidate and scores it by how many of the table's
    column names the header then holds (or, without header, how many records have the table's
    field count), then by how many records share the most common field count. The Sniffer's
    guess wins when it scores as well as the best candidate; ties go to the order above.
    """
    sample = _sample(text)
    expected = {name.casefold() for name in column_names}
    scores = {
        candidate: _delimiter_score(sample, candidate, expected, header=header)
        for candidate in DELIMITER_CANDIDATES
    }
    best = max(scores.values())
    sniffed = _sniff(sample)
    if sniffed is not None and scores[sniffed] == best:
        return sniffed
    return next(candidate for candidate in DELIMITER_CANDIDATES if scores[candidate] == best)


def _sample(text: str) -> str:
    if len(text) <= SAMPLE_CHARS:
        return text
    cut = text.rfind("\n", 0, SAMPLE_CHARS)
    return text[: cut + 1] if cut > 0 else text[:SAMPLE_CHARS]


def _sniff(sample: str) -> str | None:
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITER_CANDIDATES)).delimiter
    except csv.Error:
        return None
    return delimiter if delimiter in DELIMITER_CANDIDATES else None


def _delimiter_score(
    sample: str, delimiter: str, expected: set[str], *, header: bool
) -> tuple[int, int]:
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    records = [record for record, _ in zip(reader, range(SAMPLE_RECORDS), strict=False) if record]
    if not records:
        return (0, 0)
    if header:
        fit = len(expected & {name.strip().casefold() for name in records[0]})
    else:
        fit = sum(1 for record in records if len(record) == len(expected))
    modal_count, agreeing = Counter(len(record) for record in records).most_common(1)[0]
    return (fit, agreeing if modal_count > 1 else 0)


# --- decimal style -------------------------------------------------------------------------


def detect_decimal(values: Iterable[str]) -> str:
    """`,` when the money values read as Brazilian (`1.234,56`) rather than plain (`1234.56`).

    Values that fit only one style are counted (up to DECIMAL_EVIDENCE values); the majority
    wins. On a tie, values such as `1.500` (plain: three decimal places, which money never has;
    Brazilian: 1500) tip it to Brazilian; with no evidence at all the style is plain.
    """
    brazilian_only = plain_only = thousands_like = 0
    for value in values:
        if "," in value:  # never plain
            brazilian_only += BRAZILIAN_NUMBER.fullmatch(value.strip()) is not None
        elif "." in value and PLAIN_NUMBER.fullmatch(text := value.strip()):
            if BRAZILIAN_NUMBER.fullmatch(text):
                thousands_like += 1
            else:
                plain_only += 1
        if brazilian_only + plain_only >= DECIMAL_EVIDENCE:
            break
    if brazilian_only != plain_only:
        return BRAZILIAN_DECIMAL if brazilian_only > plain_only else PLAIN_DECIMAL
    return BRAZILIAN_DECIMAL if thousands_like else PLAIN_DECIMAL


# --- value normalisation -------------------------------------------------------------------


def convert_column(values: list[str], sql_type: str, decimal: str) -> list[str | None]:
    """The record values of one column's raw fields: empty → None, then by type.

    Text keeps its surrounding whitespace (validation judges blanks); numbers and dates are
    stripped; Brazilian money becomes `1234.56` and `DD/MM/YYYY` dates become ISO when they
    parse, anything else is kept as it was for validation to reject.
    """
    if sql_type.startswith(MONEY_TYPE_PREFIX) and decimal == BRAZILIAN_DECIMAL:
        return [_brazilian_money(text) for text in map(str.strip, values)]
    if sql_type == DATE_TYPE:
        return [
            _brazilian_date(text) if "/" in text else text or None
            for text in map(str.strip, values)
        ]
    if sql_type.startswith(MONEY_TYPE_PREFIX) or sql_type in INT_TYPES:
        return [text or None for text in map(str.strip, values)]
    return [text or None for text in values]


def _brazilian_money(text: str) -> str | None:
    if BRAZILIAN_NUMBER.fullmatch(text) is None:
        return text or None
    return text.replace(".", "").replace(",", ".")


def _brazilian_date(text: str) -> str:
    match = BRAZILIAN_DATE.fullmatch(text)
    if match is None:
        return text
    day, month, year = (int(part) for part in match.groups())
    try:
        return date(year, month, day).isoformat()
    except ValueError:  # not a calendar date, e.g. 31/02/2024
        return text


# --- writing -------------------------------------------------------------------------------


def format_cell(value: object, sql_type: str, decimal: str) -> str:
    """A source value as a CSV field: money in the `decimal` style, dates as YYYY-MM-DD.

    Strings are written as given, so tests can plant invalid values; None is an empty field.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    is_number = isinstance(value, Decimal | int | float) and not isinstance(value, bool)
    if sql_type.startswith(MONEY_TYPE_PREFIX) and is_number:
        return format_money(Decimal(str(value)), decimal)
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def format_money(value: Decimal, decimal: str) -> str:
    """`1234.56` in the plain style, `1.234,56` in the Brazilian one."""
    if decimal == PLAIN_DECIMAL:
        return format(value, "f")
    return format(value, ",f").translate(_SWAP_SEPARATORS)


_SWAP_SEPARATORS = str.maketrans({",": ".", ".": ","})
