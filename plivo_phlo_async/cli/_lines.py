"""Lines of a file, each one bounded, read in flat memory.

A row becomes one PHLO run, whose body is at most 1 MiB, so a much longer
line can never be sent: it is skipped in blocks and only measured, never kept.
Lines are bytes, each decoded on its own, so a byte that is not UTF-8 is
blamed on the line that holds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from .._validation import MAX_BODY_BYTES

#: Longest line (or CSV row) read, in bytes, line end included: the 1 MiB a
#: request body may hold, plus 64 KiB for what a line has and the body does
#: not (spaces after ``:`` and ``,``, a job id column, escapes).
MAX_LINE_BYTES = MAX_BODY_BYTES + 64 * 1024

#: Bytes read at a time.
BLOCK_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Overlong:
    """A line longer than the reader's limit, skipped: how long it was, and how
    many quote characters it held (so a CSV reader can tell whether a quoted
    value goes on after it)."""

    size: int
    quotes: int


class LineReader:
    """Reads a binary file one line at a time (line end included), never
    holding more than ``limit`` bytes of a line plus one block."""

    def __init__(
        self,
        file: BinaryIO,
        limit: int = MAX_LINE_BYTES,
        *,
        cr_ends_line: bool = False,
        block: int = BLOCK_BYTES,
    ) -> None:
        self._file = file
        self._limit = limit
        self._block = block
        # JSON Lines end lines with "\n" ("\r\n" too, the "\r" being JSON
        # whitespace); CSV, like Python's text files with newline="", also "\r".
        self._cr_ends_line = cr_ends_line
        self._buffer = b""
        self._pos = 0
        self._eof = False
        #: The number of the line last read (1 for the first line).
        self.number = 0

    def read(self) -> bytes | Overlong | None:
        """The next line with its end, an :class:`Overlong` for a line longer
        than the limit (skipped whole), or None at the end of the file."""
        scan = self._pos
        while True:
            found = self._line_end(self._buffer, scan)
            if found is not None and not self._may_continue(found, self._buffer):
                end = found[1]
                line = self._buffer[self._pos : end]
                self._pos = end
                self.number += 1
                if len(line) > self._limit:
                    return Overlong(len(line), line.count(b'"'))
                return line
            if len(self._buffer) - self._pos > self._limit:
                return self._skip_rest()
            if self._eof:
                if self._pos == len(self._buffer):
                    return None
                line = self._buffer[self._pos :]
                self._pos = len(self._buffer)
                self.number += 1
                return line
            # Search again from a "\r" that may be the first half of "\r\n",
            # else from the first new byte.
            scan = found[0] if found is not None else len(self._buffer)
            scan -= self._fill()

    def _line_end(self, data: bytes, start: int) -> tuple[int, int] | None:
        """Where the first line end in ``data[start:]`` starts and ends, if any.

        Two ``bytes.find`` calls, not a regular expression: skipping a 1 GB
        line takes a second instead of ten.
        """
        newline = data.find(b"\n", start)
        if self._cr_ends_line:
            cr = data.find(b"\r", start, len(data) if newline < 0 else newline)
            if cr >= 0:
                return (cr, cr + 2) if cr + 1 == newline else (cr, cr + 1)
        return None if newline < 0 else (newline, newline + 1)

    def _may_continue(self, found: tuple[int, int], data: bytes) -> bool:
        """A "\\r" that ends the data read so far may be the start of "\\r\\n"."""
        start, end = found
        return end == len(data) and data[start] == 0x0D and not self._eof  # "\r"

    def _fill(self) -> int:
        """Read one more block; return how far the buffer's content moved left."""
        moved = self._pos
        block = self._file.read(self._block)
        if not block:
            self._eof = True
        self._buffer = self._buffer[self._pos :] + block
        self._pos = 0
        return moved

    def _skip_rest(self) -> Overlong:
        """Skip the line under way (longer than the limit) to its end, counting
        its bytes and quotes but keeping none of them."""
        data = self._buffer[self._pos :]
        self._buffer, self._pos = b"", 0
        size = quotes = 0
        while True:
            found = self._line_end(data, 0)
            if found is not None and not self._may_continue(found, data):
                size += found[1]
                quotes += data.count(b'"', 0, found[1])
                self._buffer = data[found[1] :]
                break
            keep = data[found[0] :] if found is not None else b""
            size += len(data) - len(keep)
            quotes += data.count(b'"', 0, len(data) - len(keep))
            block = self._file.read(self._block)
            if not block:
                self._eof = True
                if not keep:
                    break
            data = keep + block
        self.number += 1
        return Overlong(size, quotes)
