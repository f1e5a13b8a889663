"""plivo-phlo run on hostile input: every row it cannot send is an invalid row with
its line number (exit 2, nothing sent), lines are bounded in flat memory, and a
real run records one outcome line per job whatever the server answers.

Once a traceback (exit 1) or a silent pass: a JSONL line nested 100,000 deep, a
lone surrogate as a job id (sent, then the outcome file was left empty), a 1 GB
line read whole (4.2 GB of memory), a bad byte on line 2 reported "after line 0".
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from _servers import Behaviour, Conn, Request, Server, response
from hypothesis import given, settings
from hypothesis import strategies as st

from plivo_phlo_async import InvalidParameterError, PhloClient
from plivo_phlo_async._validation import MAX_BODY_BYTES, MAX_PAYLOAD_DEPTH
from plivo_phlo_async.bulk import RunJob
from plivo_phlo_async.bulk._jobs import Handles, prepare
from plivo_phlo_async.cli._io import (
    MAX_LINE_BYTES,
    InputFormatError,
    InvalidRow,
    Source,
    iter_jobs,
    validate,
)
from plivo_phlo_async.cli._lines import LineReader, Overlong
from plivo_phlo_async.emulator import DEFAULT_PHLO_ID, PhloEmulator

from .conftest import invoke, write

pytestmark = pytest.mark.usefixtures("credentials")

PHLO = "phlo-1"
MB = 1_000_000
CAP = f"{MAX_LINE_BYTES:,} bytes"


def run(base_url: str, *args: str) -> Any:
    return invoke("run", DEFAULT_PHLO_ID, *args, "--base-url", base_url)


def rows(path: Path, fmt: str = "jsonl", column: str | None = None) -> list[RunJob | InvalidRow]:
    return list(iter_jobs(Source(path, fmt, column), PHLO))  # type: ignore[arg-type]


def invalid(items: list[RunJob | InvalidRow]) -> dict[int, str]:
    return {item.ref: item.reason for item in items if isinstance(item, InvalidRow)}


def refs(items: list[RunJob | InvalidRow]) -> list[int]:
    return [item.ref for item in items if isinstance(item, RunJob)]


def write_bytes(path: Path, *parts: bytes) -> Path:
    path.write_bytes(b"".join(parts))
    return path


def write_long_line(path: Path, head: bytes, filler: bytes, size: int, tail: bytes) -> Path:
    """A file whose middle line is ``size`` bytes of ``filler``, written in chunks."""
    chunk = filler * (MB // len(filler))
    with path.open("wb") as file:
        file.write(head)
        left = size
        while left > 0:
            file.write(chunk[:left])
            left -= len(chunk)
        file.write(tail)
    return path


def peak_bytes(source: Source) -> tuple[int, Any]:
    """Peak Python memory while checking ``source``, and the check's result."""
    tracemalloc.start()
    try:
        checked = validate(source, PHLO)
        return tracemalloc.get_traced_memory()[1], checked
    finally:
        tracemalloc.stop()


# -- nesting -------------------------------------------------------------------------

DEEP_OBJECT = '{"a":' * 100_000 + "1" + "}" * 100_000
DEEP_LIST = '{"a":' + "[" * 100_000 + "1" + "]" * 100_000 + "}"


@pytest.mark.parametrize("line", [DEEP_OBJECT, DEEP_LIST], ids=["object", "list"])
@pytest.mark.parametrize("mode", ["--dry-run", "real run"])
def test_a_line_nested_100000_deep_is_an_invalid_row(
    emulator: PhloEmulator, base_url: str, tmp_path: Path, line: str, mode: str
) -> None:
    source = write(tmp_path / "in.jsonl", '{"to": "1"}\n' + line + '\n{"to": "3"}\n')

    result = run(base_url, "--from-jsonl", str(source), *([mode] if mode == "--dry-run" else []))

    assert result.exit_code == 2
    assert "line 2: is nested too deeply to read (a payload may be nested at most 64 levels)" in (
        result.output
    )
    assert "1 of 3 rows are invalid (lines 2)" in result.output
    assert "Traceback" not in result.output
    assert emulator.requests == []


def test_nesting_python_can_read_but_the_sdk_refuses_is_invalid_too(tmp_path: Path) -> None:
    ok = '{"a": ' + "[" * (MAX_PAYLOAD_DEPTH - 1) + "]" * (MAX_PAYLOAD_DEPTH - 1) + "}"
    too_deep = '{"a": ' + "[" * MAX_PAYLOAD_DEPTH + "]" * MAX_PAYLOAD_DEPTH + "}"
    path = write(tmp_path / "in.jsonl", f"{ok}\n{too_deep}\n")

    items = rows(path)

    assert refs(items) == [1]
    assert "nested deeper than 64 levels" in invalid(items)[2]


# -- values a real run would refuse ---------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"id": "\\ud800", "to": "1"}', "invalid 'job_id': contains the lone surrogate U+D800"),
        ('{"id": "x", "to": "a\\udc00"}', "contains the lone surrogate U+DC00"),
        ('{"id": "x", "\\ud800": "1"}', "contains the lone surrogate U+D800"),
        ('{"id": "x", "to": {"deep": ["\\udfff"]}}', "contains the lone surrogate U+DFFF"),
        ('{"id": "x", "n": 9223372036854775808}', "does not fit in 64 bits"),
        ('{"id": "x", "n": -9223372036854775809}', "does not fit in 64 bits"),
        ('{"id": "x", "n": 1e400}', "only finite numbers are"),
        ('{"id": "x", "n": ' + "9" * 5000 + "}", "not a valid JSON object"),
        ('{"id": "x", "big": "' + "x" * MAX_BODY_BYTES + '"}', "larger than the 1,048,576 bytes"),
        ('{"id": "x", "": 1}', "keys must be non-empty strings"),
    ],
    ids=[
        "surrogate-job-id",
        "surrogate-value",
        "surrogate-key",
        "surrogate-nested",
        "int-over-64-bits",
        "int-under-64-bits",
        "infinity",
        "5000-digits",
        "body-over-1-MiB",
        "empty-key",
    ],
)
def test_dry_run_refuses_what_the_real_run_would(
    emulator: PhloEmulator, base_url: str, tmp_path: Path, line: str, reason: str
) -> None:
    source = write(tmp_path / "in.jsonl", '{"id": "ok", "to": "1"}\n' + line + "\n")

    result = run(base_url, "--from-jsonl", str(source), "--job-id-column", "id", "--dry-run")

    assert result.exit_code == 2, result.output
    [listed] = [text for text in result.stdout.splitlines() if text.startswith("line ")]
    assert listed.startswith("line 2: ")
    assert reason in listed
    assert emulator.requests == []


def test_a_surrogate_job_id_stops_a_real_run_before_anything_is_sent(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    source = write(tmp_path / "in.jsonl", '{"id": "\\ud800", "to": "1"}\n{"id": "b", "to": "2"}\n')
    output = tmp_path / "out.jsonl"

    result = run(
        base_url, "--from-jsonl", str(source), "--job-id-column", "id", "--output", str(output)
    )

    assert result.exit_code == 2
    assert "line 1: invalid 'job_id'" in result.stderr
    assert emulator.requests == []


_scalars = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0xFFFF), max_size=4),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.booleans(),
    st.none(),
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)
_payloads = st.dictionaries(
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0xFFFF), max_size=3),
    _values,
    max_size=4,
)


@pytest.fixture(scope="module")
def handles() -> Iterator[Handles]:
    """What the bulk runner checks jobs with (a client that sends nothing)."""
    client = PhloClient(auth_id="MAXXXXXXXXXXXXXXXXXX", auth_token="tok")
    yield Handles(client)
    anyio.run(client.aclose)


@settings(max_examples=300, deadline=None)
@given(payload=_payloads, job_id=st.one_of(st.none(), st.text(max_size=3), st.integers()))
def test_the_check_refuses_exactly_what_the_bulk_runner_refuses(
    handles: Handles, payload: dict[str, Any], job_id: str | int | None
) -> None:
    record = dict(payload)
    if job_id is not None:
        record["\x00id"] = job_id
    line = json.dumps(record)  # ASCII: surrogates as \\uXXXX escapes, as JSONL writers do
    parsed = json.loads(line)
    given_id = parsed.pop("\x00id", None)
    job = RunJob(PHLO, parsed, job_id=None if given_id is None else str(given_id))
    try:
        prepare(job, handles)
        refused = False
    except InvalidParameterError:
        refused = True
    with temporary_file(line + "\n") as path:
        column = None if job_id is None else "\x00id"
        [item] = list(iter_jobs(Source(path, "jsonl", column), PHLO))

    assert isinstance(item, InvalidRow) is refused


@contextlib.contextmanager
def temporary_file(text: str) -> Iterator[Path]:
    """A file for one hypothesis example (function-scoped fixtures do not reset)."""
    handle, name = tempfile.mkstemp(suffix=".jsonl")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(text)
    try:
        yield Path(name)
    finally:
        os.unlink(name)


# -- a real run: one outcome line for every job --------------------------------------------


def answers_by_to(answers: dict[str, tuple[int, str]]) -> Behaviour:
    """Answers each PHLO run by its ``to`` (scripted answers by ``to``, else a 201)."""

    async def behaviour(request: Request, conn: Conn) -> None:
        to = request.json()["to"]
        status, answer = answers.get(
            to, (201, f'{{"api_id": "run-{to}", "message": "ok", "error": ""}}')
        )
        await conn.send(response(status, answer.encode()))

    return behaviour


@pytest.fixture
def counting_server(request: pytest.FixtureRequest, serve: Callable[..., Server]) -> Server:
    return serve(answers_by_to(getattr(request, "param", {})))


def sent_to(server: Server) -> list[str]:
    """The ``to`` of every request the server received, sorted."""
    return sorted(request.json()["to"] for request in server.received)


# Answers with lone surrogates (JSON escapes): valid JSON that UTF-8 cannot write.
HOSTILE_ANSWERS = {
    "3": (201, '{"api_id": "run-\\ud800", "message": "ok \\udc00", "error": ""}'),
    "4": (400, '{"api_id": "x\\udfff", "error": "bad \\ud800 number"}'),
}


@pytest.mark.parametrize("counting_server", [HOSTILE_ANSWERS], indirect=True)
def test_every_job_has_an_outcome_line_whatever_the_server_answers(
    counting_server: Server, tmp_path: Path
) -> None:
    source = write(tmp_path / "in.jsonl", "".join(f'{{"to": "{n}"}}\n' for n in range(1, 6)))
    output = tmp_path / "out.jsonl"

    result = invoke(
        "run",
        PHLO,
        "--from-jsonl",
        str(source),
        "--output",
        str(output),
        "--base-url",
        counting_server.base_url,
        "--concurrency",
        "1",
    )

    assert result.exit_code == 1  # one failed job, no traceback
    assert sent_to(counting_server) == ["1", "2", "3", "4", "5"]  # each sent once
    records = {r["ref"]: r for r in map(json.loads, output.read_bytes().decode().splitlines())}
    assert sorted(records) == [1, 2, 3, 4, 5]
    assert records[3]["status"] == "succeeded"
    assert records[3]["api_id"] == "run-\ud800"  # kept exactly, as a JSON escape
    assert records[4]["status"] == "failed"
    assert records[4]["http_status"] == 400
    assert {records[n]["status"] for n in (1, 2, 5)} == {"succeeded"}
    assert "bad \\ud800 number" in result.stdout  # the summary shows it escaped


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_an_outcome_file_that_cannot_be_written_does_not_stop_the_run(
    counting_server: Server, tmp_path: Path
) -> None:
    source = write(tmp_path / "in.jsonl", "".join(f'{{"to": "{n}"}}\n' for n in range(1, 4)))

    result = invoke(
        "run",
        PHLO,
        "--from-jsonl",
        str(source),
        "--output",
        "/dev/full",
        "--base-url",
        counting_server.base_url,
    )

    assert result.exit_code == 1
    assert sent_to(counting_server) == ["1", "2", "3"]
    assert "3 requests sent" in result.stdout
    assert "Could not write /dev/full after 0 outcomes" in result.stderr


# -- line size -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["--dry-run", "real run"])
def test_an_overlong_jsonl_line_is_an_invalid_row_naming_the_cap(
    emulator: PhloEmulator, base_url: str, tmp_path: Path, mode: str
) -> None:
    source = write_long_line(
        tmp_path / "in.jsonl", b'{"to": "1"}\n{"to": "', b"x", 3 * MB, b'"}\n{"to": "3"}\n'
    )

    result = run(base_url, "--from-jsonl", str(source), *([mode] if mode == "--dry-run" else []))

    assert result.exit_code == 2
    assert f"line 2: is 3,000,011 bytes long; a line may be at most {CAP}" in result.output
    assert "1 of 3 rows are invalid (lines 2)" in result.output
    assert emulator.requests == []


def test_an_overlong_csv_line_is_an_invalid_row_and_the_next_rows_are_read(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    source = write_long_line(tmp_path / "in.csv", b"to,note\n+1,a\n+2,", b"y", 3 * MB, b"\n+3,c\n")

    result = run(base_url, "--from-csv", str(source), "--dry-run")

    assert result.exit_code == 2
    assert f"line 3: is 3,000,004 bytes long; a line may be at most {CAP}" in result.stdout
    assert "1 of 3 rows are invalid (lines 3)" in result.stdout
    assert emulator.requests == []


def test_a_line_at_the_cap_is_read_and_one_byte_more_is_not(tmp_path: Path) -> None:
    def line(size: int) -> bytes:
        return b'{"to": "' + b"x" * (size - 11) + b'"}\n'

    path = write_bytes(tmp_path / "in.jsonl", line(MAX_LINE_BYTES), line(MAX_LINE_BYTES + 1))

    items = rows(path)

    assert "larger than the 1,048,576 bytes" in invalid(items)[1]  # read, then refused by size
    assert invalid(items)[2].startswith(f"is {MAX_LINE_BYTES + 1:,} bytes long")


def test_quoted_csv_values_spanning_lines_are_bounded_as_a_row(tmp_path: Path) -> None:
    # 12 quoted values of 100,000 bytes, each over two lines: no line and no value is
    # too long (Python's csv reads values up to 131,072 characters), the row is.
    header = b"to," + b",".join(b"c%d" % n for n in range(12)) + b"\n"
    value = b'"' + b"z" * 50_000 + b"\n" + b"z" * 50_000 + b'"'
    row = b"+2," + b",".join([value] * 12) + b"\n"  # lines 3 to 15
    after = b"+3," + b",".join([b'"two\nlines"'] * 12) + b"\n"  # lines 16 and 17
    path = write_bytes(tmp_path / "in.csv", header, b"+1" + b",a" * 12 + b"\n", row, after)

    items = rows(path, "csv")

    assert list(invalid(items)) == [3]
    assert re.fullmatch(
        rf"is a row longer than {CAP} \(it passes the limit on line 1[0-5]\); a row becomes "
        "one request, whose body is at most 1 MiB",
        invalid(items)[3],
    )
    assert refs(items) == [2, 16]  # the row after it, at its own line


def test_a_csv_value_over_pythons_field_limit_is_an_invalid_row(tmp_path: Path) -> None:
    path = write_bytes(
        tmp_path / "in.csv",
        b"to,note\n+1,",
        b"v" * 200_000,
        b'\n+2,"',
        b"w\n" * 70_000,
        b'"\n+3,c\n',
    )

    items = rows(path, "csv")

    assert invalid(items) == {
        2: "has a value longer than 131,072 characters, the most Python's csv module "
        "reads in one value",
        3: "has a value longer than 131,072 characters, the most Python's csv module "
        "reads in one value",
    }
    assert refs(items) == [70_004]


def test_an_overlong_csv_header_rejects_the_file(tmp_path: Path) -> None:
    path = write_long_line(tmp_path / "in.csv", b"", b"h", 2 * MB, b"\n1\n")

    with pytest.raises(InputFormatError, match=r"line 1 \(the header\) is 2,000,001 bytes long"):
        rows(path, "csv")


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_30_mb_line_is_checked_in_flat_memory(tmp_path: Path, fmt: str) -> None:
    if fmt == "jsonl":
        path = write_long_line(
            tmp_path / "in.jsonl", b'{"to": "1"}\n{"to": "', b"m", 30 * MB, b'"}\n{"to": "3"}\n'
        )
    else:
        path = write_long_line(tmp_path / "in.csv", b"to\n+1\n", b"m", 30 * MB, b"\n+3\n")

    peak, checked = peak_bytes(Source(path, fmt))  # type: ignore[arg-type]

    assert (checked.rows, checked.invalid_count) == (3, 1)
    assert "bytes long; a line may be at most" in checked.invalid[0].reason
    assert peak < 4 * MB  # the cap (1.1 MB) and a block or two, not the 30 MB line


# -- bad bytes -------------------------------------------------------------------------


@pytest.mark.parametrize("bad_line", [1, 2, 7])
def test_a_bad_byte_in_jsonl_is_blamed_on_its_line(tmp_path: Path, bad_line: int) -> None:
    lines = [b'{"to": "%d"}\n' % n for n in range(1, 9)]
    lines[bad_line - 1] = b'{"to": "caf\xe9"}\n'  # Latin-1
    path = write_bytes(tmp_path / "in.jsonl", *lines)

    items = rows(path)

    assert invalid(items) == {
        bad_line: "is not UTF-8 text (invalid continuation byte at byte 12 of the line); "
        "save the file as UTF-8"
    }
    assert refs(items) == [n for n in range(1, 9) if n != bad_line]


@pytest.mark.parametrize("bad_line", [2, 3, 7])
def test_a_bad_byte_in_csv_is_blamed_on_its_line(tmp_path: Path, bad_line: int) -> None:
    lines = [b"to,name\n"] + [b"+%d,x\n" % n for n in range(2, 9)]
    lines[bad_line - 1] = b"+1,caf\xe9\n"
    path = write_bytes(tmp_path / "in.csv", *lines)

    items = rows(path, "csv")

    assert list(invalid(items)) == [bad_line]
    assert invalid(items)[bad_line].startswith("is not UTF-8 text")
    assert refs(items) == [n for n in range(2, 9) if n != bad_line]


def test_a_bad_byte_inside_a_quoted_csv_value_names_the_row_and_the_line(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "in.csv", b'to,note\n+1,"one\ntw\xff\nthree"\n+2,x\n')

    items = rows(path, "csv")

    assert invalid(items) == {
        2: "goes on to line 3, which is not UTF-8 text (invalid start byte at byte 3 of "
        "the line); save the file as UTF-8"
    }
    assert refs(items) == [5]


def test_a_bad_byte_on_line_2_is_reported_there_by_the_command(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    source = write_bytes(tmp_path / "in.jsonl", b'{"to": "1"}\n{"to": "\xff"}\n{"to": "3"}\n')

    result = run(base_url, "--from-jsonl", str(source), "--dry-run")

    assert result.exit_code == 2
    assert "line 2: is not UTF-8 text (invalid start byte at byte 9 of the line)" in result.stdout
    assert "after line" not in result.output
    assert emulator.requests == []


# -- line ends and the line reader ------------------------------------------------------------


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_csv_rows_are_read_with_any_line_end(tmp_path: Path, end: bytes) -> None:
    text = b'to,note\n+1,a\n+2,"two\nlines"\n\n+3,c\n'.replace(b"\n", end)
    path = write_bytes(tmp_path / "in.csv", text)

    items = rows(path, "csv")

    assert refs(items) == [2, 3, 6]
    assert isinstance(items[1], RunJob)
    assert items[1].payload["note"] == f"two{end.decode()}lines"


def _reference_lines(data: bytes, cr_ends_line: bool, limit: int) -> list[bytes | Overlong]:
    pattern = rb"[^\r\n]*(?:\r\n?|\n)|[^\r\n]+$" if cr_ends_line else rb"[^\n]*\n|[^\n]+$"
    return [
        Overlong(len(line), line.count(b'"')) if len(line) > limit else line
        for line in re.findall(pattern, data)
    ]


@settings(max_examples=500, deadline=None)
@given(
    data=st.binary(max_size=60).map(lambda raw: bytes(b'ab"\r\n'[byte % 5] for byte in raw)),
    cr_ends_line=st.booleans(),
    limit=st.integers(1, 12),
    block=st.integers(1, 9),
)
def test_the_line_reader_splits_like_a_reference_whatever_the_block_size(
    data: bytes, cr_ends_line: bool, limit: int, block: int
) -> None:
    reader = LineReader(io.BytesIO(data), limit, cr_ends_line=cr_ends_line, block=block)
    got: list[bytes | Overlong] = []
    while (line := reader.read()) is not None:
        got.append(line)

    assert got == _reference_lines(data, cr_ends_line, limit)
    assert reader.number == len(got)


# -- duplicate job ids ------------------------------------------------------------------------


def test_long_duplicate_job_ids_are_found_without_keeping_the_ids(tmp_path: Path) -> None:
    ids = [f"{n:06d}" + "i" * 100_000 for n in range(100)]
    text = "".join(f'{{"id": "{job_id}", "to": "1"}}\n' for job_id in [*ids, ids[41]])
    path = write(tmp_path / "in.jsonl", text)

    peak, checked = peak_bytes(Source(path, "jsonl", "id"))

    assert checked.rows == 101
    assert [(row.ref, row.reason[-23:]) for row in checked.invalid] == [
        (101, "already used on line 42")
    ]
    assert peak < 3 * MB  # the ids are 10 MB
