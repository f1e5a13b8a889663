"""Reading jobs from CSV or JSONL, checking them, and writing outcomes as JSONL.

Every row is checked with the checks the SDK runs before sending a PHLO run
(payload keys non-empty strings, values JSON; the PHLO id is checked once by
the command), so a dry run finds every problem a real run would. A row's
``ref`` is its line number in the file (the CSV header is line 1, so the
first CSV row is line 2): what an editor shows, and what the outcome file
and the journal report.

Files are read as a stream, one row at a time, so a file of millions of rows
is read in flat memory (explicit job ids are remembered to report
duplicates: one short string per row).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from .._exceptions import InvalidParameterError
from ..bulk import Outcome, RunJob
from ..resources.phlo import _run_payload

__all__ = [
    "InputChangedError",
    "InputFormatError",
    "InvalidRow",
    "OutcomeWriter",
    "Source",
    "Validation",
    "iter_jobs",
    "outcome_record",
    "run_jobs",
    "validate",
]

Format = Literal["csv", "jsonl"]


class InputFormatError(Exception):
    """The file as a whole cannot be read (no header, bad encoding...)."""


class InputChangedError(Exception):
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
    seen_ids: dict[str, int] = {}
    rows = _csv_rows(source) if source.format == "csv" else _jsonl_rows(source)
    for ref, payload, job_id in rows:
        if isinstance(payload, str):
            yield InvalidRow(ref, payload)
            continue
        try:
            _run_payload(payload, {})  # what Phlo.run checks before sending
        except InvalidParameterError as exc:
            yield InvalidRow(ref, str(exc))
            continue
        if job_id is not None:
            first = seen_ids.setdefault(job_id, ref)
            if first != ref:
                yield InvalidRow(ref, f"job id {job_id!r} already used on line {first}")
                continue
        yield RunJob(phlo_id, payload, ref=ref, job_id=job_id)


# A parsed row: (line, payload or the reason it is invalid, explicit job id).
_Row = tuple[int, dict[str, Any] | str, str | None]


def _open(path: Path) -> IO[str]:
    try:
        # utf-8-sig: spreadsheets often save CSV with a byte-order mark.
        return path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputFormatError(f"cannot read {path}: {exc.strerror or exc}") from None


def _csv_rows(source: Source) -> Iterator[_Row]:
    column = source.job_id_column
    with _open(source.path) as handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise InputFormatError(f"{source.path} is empty: a CSV needs a header row") from None
        except csv.Error as exc:
            raise InputFormatError(f"{source.path}, line 1: not valid CSV: {exc}") from None
        except UnicodeDecodeError as exc:
            raise InputFormatError(f"{source.path} is not UTF-8 text: {exc.reason}") from None
        _check_header(header, source)
        width = len(header)
        id_index = header.index(column) if column is not None else -1
        last_line = reader.line_num
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise InputFormatError(
                    f"{source.path}, line {last_line + 1}: not valid CSV: {exc}"
                ) from None
            except UnicodeDecodeError as exc:
                raise InputFormatError(
                    f"{source.path} is not UTF-8 text (after line {last_line}): {exc.reason}"
                ) from None
            line, last_line = last_line + 1, reader.line_num
            if not values:  # a blank line
                continue
            if len(values) != width:
                yield line, (
                    f"has {len(values)} values, the header has {width} columns"
                ), None
                continue
            job_id: str | None = None
            payload: dict[str, Any] = {}
            for index, (key, value) in enumerate(zip(header, values, strict=True)):
                if index == id_index:
                    job_id = value
                else:
                    payload[key] = value
            if column is not None and not job_id:
                yield line, f"empty job id in column {column!r}", None
                continue
            yield line, payload, job_id


def _check_header(header: list[str], source: Source) -> None:
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


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _jsonl_rows(source: Source) -> Iterator[_Row]:
    column = source.job_id_column
    with _open(source.path) as handle:
        line = 0
        while True:
            try:
                text = handle.readline()
            except UnicodeDecodeError as exc:
                raise InputFormatError(
                    f"{source.path} is not UTF-8 text (after line {line}): {exc.reason}"
                ) from None
            if not text:
                return
            line += 1
            if not text.strip():
                continue
            try:
                data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
            except ValueError as exc:
                yield line, f"not a valid JSON object: {exc}", None
                continue
            if not isinstance(data, dict):
                yield line, f"must be a JSON object, not {_json_type(data)}", None
                continue
            job_id: str | None = None
            if column is not None:
                if column not in data:
                    yield line, f"no {column!r} key (for --job-id-column)", None
                    continue
                raw = data.pop(column)
                if isinstance(raw, bool) or not isinstance(raw, (str, int)) or raw == "":
                    yield line, f"job id {column!r} must be a non-empty string or an integer", None
                    continue
                job_id = str(raw)
            yield line, data, job_id


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


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
        "error": None if error is None else str(error),
        "from_journal": outcome.from_journal,
        "reason": outcome.reason,
    }


class OutcomeWriter:
    """Writes one JSON line per outcome, flushed line by line, so a killed run
    leaves only complete lines behind."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] = path.open("w", encoding="utf-8", buffering=1)

    def write(self, outcome: Outcome) -> None:
        self._file.write(json.dumps(outcome_record(outcome), ensure_ascii=False) + "\n")

    def close(self) -> None:
        self._file.close()
