"""Reading jobs from CSV or JSONL, checking them, and writing outcomes as JSONL.

Every row gets the checks the bulk runner makes before sending it
(``bulk.prepare``), so a dry run finds every problem a real run would. A
row's ``ref`` is its line number (the CSV header is line 1), as an editor
shows it. Files are streamed as bounded lines (``_lines``), in flat memory;
a row that cannot be read is an invalid row like any other.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, Literal

from .._exceptions import InvalidParameterError, PlivoError
from .._validation import MAX_PAYLOAD_DEPTH, SURROGATE
from ..bulk import Outcome, RunJob, escape_surrogates, job_id_of, safe_repr, safe_str, unusable
from ..resources.phlo import encode_run_payload
from ._lines import MAX_LINE_BYTES, LineReader, Overlong

Format = Literal["csv", "jsonl"]


class InputFormatError(PlivoError):
    """The file as a whole cannot be read (no header, bad encoding...)."""


class InputChangedError(PlivoError):
    """A row that was valid when checked is not any more (the file changed)."""


@dataclass(frozen=True, slots=True)
class Source:
    """Where the jobs come from."""

    path: Path
    format: Format
    job_id_column: str | None = None


@dataclass(frozen=True, slots=True)
class InvalidRow:
    """A row that would not be sent, and why."""

    ref: int
    reason: str


#: Invalid rows kept (with their reasons) by a check; the rest are only counted.
KEEP_INVALID = 1000


@dataclass(slots=True)
class Validation:
    """The result of checking every row: how many, and which are invalid.

    ``invalid`` holds the first :data:`KEEP_INVALID` invalid rows,
    ``invalid_count`` counts them all, so a broken file of millions of rows is
    checked in flat memory.
    """

    rows: int = 0
    invalid: list[InvalidRow] = field(default_factory=list)
    invalid_count: int = 0

    @property
    def valid(self) -> int:
        return self.rows - self.invalid_count


def validate(source: Source, phlo_id: str, *, keep: int = KEEP_INVALID) -> Validation:
    """Read the whole file once: count the rows and collect the invalid ones."""
    result = Validation()
    for item in iter_jobs(source, phlo_id):
        result.rows += 1
        if isinstance(item, InvalidRow):
            result.invalid_count += 1
            if len(result.invalid) < keep:
                result.invalid.append(item)
    return result


def run_jobs(source: Source, phlo_id: str) -> Iterator[RunJob]:
    """The jobs of a file already validated, read lazily for the runner."""
    for item in iter_jobs(source, phlo_id):
        if isinstance(item, InvalidRow):
            raise InputChangedError(
                f"line {item.ref} became invalid after the check ({item.reason}); "
                "the file changed during the run"
            )
        yield item


def iter_jobs(source: Source, phlo_id: str) -> Iterator[RunJob | InvalidRow]:
    """One ``RunJob`` (checked) or ``InvalidRow`` per row of the file."""
    seen_ids: dict[bytes, int] = {}
    for ref, payload, job_id in _rows(source):
        if isinstance(payload, str):
            yield InvalidRow(ref, _shown(payload))
            continue
        job = RunJob(phlo_id, payload, ref=ref, job_id=job_id)
        refusal = _refusal(job)
        if refusal is not None:
            yield InvalidRow(ref, _shown(refusal))
            continue
        if job_id is not None:
            # A digest, not the id: 16 bytes a row however long the ids are.
            key = hashlib.blake2b(job_id.encode(), digest_size=16).digest()
            first = seen_ids.setdefault(key, ref)
            if first != ref:
                yield InvalidRow(ref, f"job id {safe_repr(job_id)} already used on line {first}")
                continue
        yield job


def _refusal(job: RunJob) -> str | None:
    """Why the bulk runner would give ``job`` a failed outcome without sending
    it, or None: ``bulk.prepare``'s checks (the PHLO id aside, checked once)."""
    try:
        if job.job_id is not None:  # a derived id never fails
            job_id_of(job)
        encode_run_payload(job.payload, {})  # what Phlo.run checks and encodes
    except InvalidParameterError as exc:
        return str(exc)
    except Exception as exc:  # prepare makes any other failure a failed outcome too
        return str(unusable("payload", exc))
    return None


#: Longest reason kept for an invalid row (up to ``KEEP_INVALID`` are kept).
_REASON_LIMIT = 500


def _shown(reason: str) -> str:
    reason = escape_surrogates(reason)
    return reason if len(reason) <= _REASON_LIMIT else reason[: _REASON_LIMIT - 3] + "..."


# A parsed row: (line, payload or the reason it is invalid, explicit job id).
_Row = tuple[int, dict[str, Any] | str, str | None]

_BOM = b"\xef\xbb\xbf"  # spreadsheets often save CSV with a byte-order mark


def _rows(source: Source) -> Iterator[_Row]:
    rows = _csv_rows if source.format == "csv" else _jsonl_rows
    try:
        with source.path.open("rb") as handle:
            yield from rows(handle, source)
    except OSError as exc:  # opening, or a read error mid-file
        raise InputFormatError(f"cannot read {source.path}: {exc.strerror or exc}") from None


def _too_long(size: int) -> str:
    return (
        f"is {size:,} bytes long; a line may be at most {MAX_LINE_BYTES:,} bytes "
        "(1 MiB + 64 KiB: a row becomes one request, whose body is at most 1 MiB)"
    )


def _not_utf8(error: UnicodeDecodeError) -> str:
    return (
        f"is not UTF-8 text ({error.reason} at byte {error.start + 1} of the line); "
        "save the file as UTF-8"
    )


def _decode(line: bytes, number: int) -> str:
    """A line as text (raises ``UnicodeDecodeError``); the file's first line
    loses its byte-order mark."""
    if number == 1 and line.startswith(_BOM):
        line = line[len(_BOM) :]
    return line.decode("utf-8")


class _RowTooLongError(Exception):
    """Raised through ``csv.reader`` for a row over the limit (already skipped)."""


class _CsvLines:
    """The lines ``csv.reader`` reads, bounded one by one and as a row (a
    quoted value may span lines). Call :meth:`new_row` before each row.

    A row over the limit is skipped, then raises :class:`_RowTooLongError` out
    of the reader; a line that is not UTF-8 is noted in :attr:`not_utf8` and
    read with replacement characters, so the reader stays in step with the file.
    """

    def __init__(self, lines: LineReader) -> None:
        self._lines = lines
        self._size = 0
        self._quotes = 0
        #: The line where the current row starts.
        self.start = 1
        #: Why the current row is not UTF-8 text, if it is not.
        self.not_utf8: str | None = None

    def new_row(self) -> None:
        self.start = self._lines.number + 1
        self._size = self._quotes = 0
        self.not_utf8 = None

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        line = self._lines.read()
        if line is None:
            raise StopIteration
        number = self._lines.number
        if isinstance(line, Overlong):
            self._quotes += line.quotes
            self.skip_row()
            reason = _too_long(line.size)
            if number != self.start:
                reason = f"goes on to line {number}, which {reason}"
            raise _RowTooLongError(reason)
        self._size += len(line)
        self._quotes += line.count(b'"')
        if self._size > MAX_LINE_BYTES:
            self.skip_row()
            raise _RowTooLongError(
                f"is a row longer than {MAX_LINE_BYTES:,} bytes (it passes the limit on line "
                f"{number}); a row becomes one request, whose body is at most 1 MiB"
            )
        try:
            return _decode(line, number)
        except UnicodeDecodeError as exc:
            if self.not_utf8 is None:
                where = "" if number == self.start else f"goes on to line {number}, which "
                self.not_utf8 = where + _not_utf8(exc)
            return line.decode("utf-8", "replace")

    def skip_row(self) -> None:
        """After an error mid-row, skip to the line where the row's quotes
        balance: the end of a quoted value that spans lines, so the next row
        read is the next row of the file."""
        while self._quotes % 2:
            line = self._lines.read()
            if line is None:
                return
            self._quotes += line.quotes if isinstance(line, Overlong) else line.count(b'"')


def _csv_reason(error: csv.Error) -> str:
    limit = csv.field_size_limit()
    if f"field larger than field limit ({limit})" in str(error):
        return (
            f"has a value longer than {limit:,} characters, the most Python's csv module "
            "reads in one value"
        )
    return f"not valid CSV: {error}"


def _csv_rows(handle: BinaryIO, source: Source) -> Iterator[_Row]:
    column = source.job_id_column
    lines = _CsvLines(LineReader(handle, cr_ends_line=True))
    reader = csv.reader(lines, strict=True)
    header = _read_header(reader, lines, source)
    width = len(header)
    id_index = header.index(column) if column is not None else -1
    while True:
        lines.new_row()
        try:
            values = next(reader)
        except StopIteration:
            return
        except _RowTooLongError as exc:
            yield lines.start, str(exc), None
            continue
        except csv.Error as exc:
            lines.skip_row()
            yield lines.start, _csv_reason(exc), None
            continue
        if lines.not_utf8 is not None:
            yield lines.start, lines.not_utf8, None
            continue
        if not values:  # a blank line
            continue
        if len(values) != width:
            yield lines.start, f"has {len(values)} values, the header has {width} columns", None
            continue
        job_id: str | None = None
        payload: dict[str, Any] = {}
        for index, (key, value) in enumerate(zip(header, values, strict=True)):
            if index == id_index:
                job_id = value
            else:
                payload[key] = value
        if column is not None and not job_id:
            yield lines.start, f"empty job id in column {column!r}", None
            continue
        yield lines.start, payload, job_id


def _read_header(reader: Any, lines: _CsvLines, source: Source) -> list[str]:
    line_1 = f"{source.path}, line 1 (the header)"
    lines.new_row()
    try:
        header: list[str] = next(reader)
    except StopIteration:
        raise InputFormatError(f"{source.path} is empty: a CSV needs a header row") from None
    except _RowTooLongError as exc:
        raise InputFormatError(f"{line_1} {exc}") from None
    except csv.Error as exc:
        raise InputFormatError(f"{line_1}: {_csv_reason(exc)}") from None
    if lines.not_utf8 is not None:
        raise InputFormatError(f"{line_1} {lines.not_utf8}")
    where = f"{source.path}, header"
    for number, name in enumerate(header, 1):
        if not name:
            raise InputFormatError(f"{where}: column {number} has no name")
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise InputFormatError(f"{where}: duplicate column names {duplicates}")
    column = source.job_id_column
    if column is not None and column not in header:
        raise InputFormatError(f"{where}: no column {column!r} (for --job-id-column)")
    return header


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {safe_repr(key)}")
        result[key] = value
    return result


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys)


def _jsonl_rows(handle: BinaryIO, source: Source) -> Iterator[_Row]:
    column = source.job_id_column
    lines = LineReader(handle)
    while True:
        line = lines.read()
        if line is None:
            return
        number = lines.number
        if isinstance(line, Overlong):
            yield number, _too_long(line.size), None
            continue
        try:
            text = _decode(line, number)
        except UnicodeDecodeError as exc:
            yield number, _not_utf8(exc), None
            continue
        if not text.strip():
            continue
        try:
            data = _DECODER.decode(text)
        except RecursionError:
            depth = f"at most {MAX_PAYLOAD_DEPTH} levels"
            yield number, f"is nested too deeply to read (a payload may be nested {depth})", None
            continue
        except ValueError as exc:
            yield number, f"not a valid JSON object: {exc}", None
            continue
        if not isinstance(data, dict):
            kind = _JSON_TYPES.get(type(data), "a number")
            yield number, f"must be a JSON object, not {kind}", None
            continue
        job_id: str | None = None
        if column is not None:
            if column not in data:
                yield number, f"no {column!r} key (for --job-id-column)", None
                continue
            raw = data.pop(column)
            if isinstance(raw, bool) or not isinstance(raw, (str, int)) or raw == "":
                yield number, f"job id {column!r} must be a non-empty string or an integer", None
                continue
            job_id = str(raw)
        yield number, data, job_id


#: What a JSON value that is not an object is (else a number), as the decoder makes them.
_JSON_TYPES = {list: "an array", str: "a string", type(None): "null", bool: "a boolean"}


def outcome_record(outcome: Outcome) -> dict[str, Any]:
    """One outcome as a flat JSON object (a line of ``--output``)."""
    error = outcome.error
    return {
        "ref": outcome.ref,
        "job_id": outcome.job_id,
        "status": outcome.status.value,
        "http_status": outcome.http_status,
        "api_id": outcome.api_id,
        "attempts": outcome.attempts,
        "error_type": None if error is None else type(error).__name__,
        "error": None if error is None else safe_str(error),
        "from_journal": outcome.from_journal,
        "reason": outcome.reason,
    }


def outcome_line(outcome: Outcome) -> str:
    """:func:`outcome_record` as one line of JSON that is always valid UTF-8.

    Text from a server (an ``api_id``, an error message) may hold a lone
    surrogate, which UTF-8 cannot encode: such a line is written with JSON's
    ``\\uXXXX`` escapes instead, which keep the value exactly.
    """
    record = outcome_record(outcome)
    text = json.dumps(record, ensure_ascii=False, default=safe_str)
    if not text.isascii() and SURROGATE.search(text):
        text = json.dumps(record, default=safe_str)
    return text + "\n"


class OutcomeWriter:
    """Writes one JSON line per outcome, flushed line by line, so a killed run
    leaves only complete lines behind.

    Never raises from :meth:`write`: a run goes on when its outcome file cannot
    be written (a full disk), and the first error is kept in :attr:`error`
    for the command to report, with the number of lines written.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] = path.open("w", encoding="utf-8", buffering=1)
        self.written = 0
        self.error: OSError | None = None

    def write(self, outcome: Outcome) -> None:
        if self.error is not None:
            return
        try:
            self._file.write(outcome_line(outcome))
        except OSError as exc:
            self.error = exc
            return
        self.written += 1

    def close(self) -> None:
        try:
            self._file.close()
        except OSError as exc:
            self.error = self.error or exc
