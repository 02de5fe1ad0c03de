"""Read a CSV export of one source table (e.g. `imoveis.csv`) into raw string records.

One bad row never aborts the read: it comes back as a `MalformedLine` with its physical line
number, and the rows around it are still read. Only a file that cannot be read at all (missing,
empty, no usable header, unknown encoding) raises `InputError`.
"""

from __future__ import annotations

import csv
import gc
import io
import itertools
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from condolake.errors import InputError
from condolake.ingestion import csv_format as fmt
from condolake.source.tables import SourceTable

if TYPE_CHECKING:
    import _csv

MALFORMED_ROW = "malformed_row"
UNDECODABLE = "undecodable"
LINE_ENDINGS = "\r\n"


@dataclass(frozen=True)
class CsvOptions:
    """How to read the file; every `None` is detected from the file itself."""

    delimiter: str | None = None
    encoding: str | None = None
    decimal: str | None = None
    header: bool = True

    def __post_init__(self) -> None:
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise InputError(f"CSV delimiter must be one character, got {self.delimiter!r}")
        if self.decimal is not None and self.decimal not in fmt.DECIMAL_STYLES:
            raise InputError(f"CSV decimal separator must be '.' or ',', got {self.decimal!r}")


@dataclass(frozen=True, slots=True)
class CsvRecord:
    line: int  # 1-based physical line where the record starts (the header is line 1)
    values: dict[str, str | None]


@dataclass(frozen=True, slots=True)
class MalformedLine:
    line: int
    raw: str
    reason: str
    detail: str


@dataclass(frozen=True)
class CsvReadResult:
    file: str
    encoding: str
    delimiter: str
    decimal: str
    records: list[CsvRecord]
    malformed: list[MalformedLine]


class _RawRecord(NamedTuple):
    start: int  # index of its first physical line
    end: int  # index one past its last physical line
    fields: list[str] | None  # None when the csv module rejected it
    error: str


class _RecordSplitter:
    """Non-blank CSV records with the physical lines they span.

    A record with the wrong field count that spans several lines is almost always an unclosed
    quote that swallowed the rows after it; `reread_from` lets the caller reject only its first
    line and have the following lines read again as records of their own.
    """

    def __init__(self, lines: list[str], delimiter: str) -> None:
        self._lines = lines
        self._delimiter = delimiter
        self._restart_at: int | None = None

    def reread_from(self, index: int) -> None:
        self._restart_at = index

    def __iter__(self) -> Iterator[_RawRecord]:
        base = position = 0  # base: index of the line the current csv.reader started at
        reader = self._reader_from(base)
        while True:
            if self._restart_at is not None:
                base = position = self._restart_at
                self._restart_at = None
                reader = self._reader_from(base)
            start = position
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                position = base + reader.line_num
                yield _RawRecord(start, position, None, str(exc))
                continue
            position = base + reader.line_num
            # Blank lines come back as [] (empty) or [' '] (only spaces): neither is a record.
            if fields and (len(fields) > 1 or fields[0].strip() or position - start > 1):
                yield _RawRecord(start, position, fields, "")

    def _reader_from(self, index: int) -> _csv.Reader:
        # map over a range: a restart costs O(1), with no copy of the remaining lines.
        lines = map(self._lines.__getitem__, range(index, len(self._lines)))
        return csv.reader(lines, delimiter=self._delimiter)


def read_csv(path: Path, table: SourceTable, options: CsvOptions = CsvOptions()) -> CsvReadResult:
    """Every record of `path` as raw strings for `table`'s columns, and every malformed line."""
    with _gc_paused():
        return _read(path, table, options)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while the records are built.

    A read allocates hundreds of thousands of small lists and dicts, none of them in a cycle;
    the collector would re-scan them again and again and nearly double the read time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read(path: Path, table: SourceTable, options: CsvOptions) -> CsvReadResult:
    data = _read_bytes(path)
    encoding = options.encoding or fmt.detect_encoding(data)
    text, lossy = _decode(path, data, encoding)
    if not text.strip():
        raise InputError(f"CSV file {path} is empty: it has only blank lines")
    lines = io.StringIO(text, newline="").readlines()
    delimiter = options.delimiter or fmt.detect_delimiter(
        text, table.column_names, header=options.header
    )
    splitter = _RecordSplitter(lines, delimiter)
    rows = iter(splitter)
    first = next(rows)  # the text is not blank, so there is a first record
    if options.header:
        positions = _header_positions(path, table, first, lines[first.start], encoding, lossy)
        field_count = len(first.fields or ())
    else:
        positions = {name: index for index, name in enumerate(table.column_names)}
        field_count = len(positions)
        rows = itertools.chain([first], rows)
    good, malformed = _split_good_and_malformed(rows, splitter, lines, field_count, encoding, lossy)

    raw_columns = {name: [fields[index] for _, fields in good] for name, index in positions.items()}
    money_columns = [c.name for c in table.columns if c.sql_type.startswith(fmt.MONEY_TYPE_PREFIX)]
    decimal = options.decimal or fmt.detect_decimal(
        value for name in money_columns for value in raw_columns[name]
    )
    converted = [
        fmt.convert_column(raw_columns[column.name], column.sql_type, decimal)
        for column in table.columns
    ]
    names = table.column_names
    records = [
        CsvRecord(line, dict(zip(names, values, strict=True)))
        for (line, _), values in zip(good, zip(*converted, strict=True), strict=True)
    ]
    return CsvReadResult(path.name, encoding, delimiter, decimal, records, malformed)


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise InputError(f"CSV file {path} does not exist")
    if not path.is_file():
        raise InputError(f"CSV file {path} is not a regular file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"CSV file {path} cannot be read: {exc.strerror or exc}") from None
    if not data:
        raise InputError(f"CSV file {path} is empty (0 bytes)")
    return data


def _decode(path: Path, data: bytes, encoding: str) -> tuple[str, bool]:
    try:
        return fmt.decode(data, encoding)
    except LookupError:
        raise InputError(f"CSV file {path}: unknown encoding {encoding!r}") from None
    except fmt.UnreadableEncodingError as exc:
        raise InputError(f"CSV file {path} is not readable as {encoding}: {exc}") from None


def _header_positions(
    path: Path, table: SourceTable, first: _RawRecord, header_line: str, encoding: str, lossy: bool
) -> dict[str, int]:
    """Each table column's field index, from the header (names trimmed, case-insensitive)."""
    if first.fields is None:
        raise InputError(
            f"CSV file {path} has no usable header: line {first.start + 1}: {first.error}"
        )
    if lossy and fmt.has_undecodable("".join(first.fields)):
        raise InputError(
            f"CSV file {path} is not readable as {encoding}: its header line "
            f"{fmt.printable(header_line.rstrip(LINE_ENDINGS), encoding)!r} has invalid bytes"
        )
    names = [name.strip().casefold() for name in first.fields]
    if not any(names):
        raise InputError(f"CSV file {path} has no usable header: line {first.start + 1} is empty")
    _check_header(path, table, names)
    return {name: names.index(name) for name in table.column_names}


def _check_header(path: Path, table: SourceTable, names: list[str]) -> None:
    missing = [name for name in table.column_names if name not in names]
    if missing:
        hint = (
            ""
            if len(missing) < len(table.columns)
            else " (wrong delimiter, or a file without header that needs header=False?)"
        )
        raise InputError(
            f"CSV file {path} lacks required column(s) {', '.join(missing)} for table "
            f"{table.name}; its header has: {', '.join(names)}{hint}"
        )
    repeated = sorted({name for name in table.column_names if names.count(name) > 1})
    if repeated:
        raise InputError(
            f"CSV file {path} has column(s) {', '.join(repeated)} more than once in its header"
        )


def _split_good_and_malformed(
    rows: Iterable[_RawRecord],
    splitter: _RecordSplitter,
    lines: list[str],
    expected: int,
    encoding: str,
    lossy: bool,
) -> tuple[list[tuple[int, list[str]]], list[MalformedLine]]:
    good: list[tuple[int, list[str]]] = []
    malformed: list[MalformedLine] = []
    for row in rows:
        if lossy and fmt.has_undecodable("".join(lines[row.start : row.end])):
            raw = "".join(lines[row.start : row.end]).rstrip(LINE_ENDINGS)
            detail = f"bytes not valid in {encoding}"
            malformed.append(
                MalformedLine(row.start + 1, fmt.printable(raw, encoding), UNDECODABLE, detail)
            )
        elif row.fields is not None and len(row.fields) == expected:
            good.append((row.start + 1, row.fields))
        else:
            malformed.append(_malformed_row(row, lines[row.start], expected))
            if row.end - row.start > 1:
                # Only the first line is rejected: the next ones are read again as records.
                splitter.reread_from(row.start + 1)
    return good, malformed


def _malformed_row(row: _RawRecord, first_line: str, expected: int) -> MalformedLine:
    if row.fields is None:
        detail = f"unreadable CSV: {row.error}"
    else:
        detail = f"expected {expected} fields, found {len(row.fields)}"
    if row.end - row.start > 1:
        detail += f" (a quote opened here runs to line {row.end}; the next lines are re-read)"
    return MalformedLine(row.start + 1, first_line.rstrip(LINE_ENDINGS), MALFORMED_ROW, detail)


def write_csv(
    path: Path,
    table: SourceTable,
    rows: Iterable[Mapping[str, object]],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    decimal: str = ".",
    header: bool = True,
) -> int:
    """Write `rows` as a CSV export of `table` (header, then one line per row); returns the count.

    Money is written in the `decimal` style (`1.234,56` with thousands dots when ','), dates as
    YYYY-MM-DD, None as an empty field; strings are written as given, so tests can plant
    invalid values.
    """
    if decimal not in fmt.DECIMAL_STYLES:
        raise InputError(f"CSV decimal separator must be '.' or ',', got {decimal!r}")
    count = 0
    try:
        with path.open("w", encoding=encoding, newline="") as handle:
            writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
            if header:
                writer.writerow(table.column_names)
            for row in rows:
                writer.writerow(
                    fmt.format_cell(row.get(column.name), column.sql_type, decimal)
                    for column in table.columns
                )
                count += 1
    except UnicodeEncodeError as exc:
        raise InputError(f"CSV file {path} cannot be written as {encoding}: {exc}") from None
    return count
