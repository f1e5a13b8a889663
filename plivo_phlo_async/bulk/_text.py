"""Text of arbitrary values that can never fail, for messages and the journal:
a job may hold anything (a lone surrogate, a 5,000-digit integer, deep
nesting, a ``__repr__`` that raises), and turning it into text must never be
what aborts a run.
"""

from __future__ import annotations

import reprlib
from typing import Any

from .._exceptions import InvalidParameterError
from .._validation import is_int

__all__ = ["escape_surrogates", "safe_repr", "safe_str", "unusable"]

#: Longest text :func:`safe_repr` returns.
REPR_LIMIT = 200

_repr = reprlib.Repr()
_repr.maxlevel = 4
_repr.maxstring = 80
_repr.maxother = 80
_repr.maxlong = 80


def escape_surrogates(text: str) -> str:
    """``text`` with lone surrogates written as ``\\udXXX`` (valid UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _type_name(value: Any) -> str:
    try:
        return escape_surrogates(str(type(value).__qualname__))
    except Exception:
        return "object"


def safe_repr(value: Any, limit: int = REPR_LIMIT) -> str:
    """A short repr of ``value`` in valid UTF-8; never raises."""
    try:
        if is_int(value) and value.bit_length() > 256:
            text = f"<int of {value.bit_length()} bits: 0x{value:x}>"
        else:
            text = _repr.repr(value)
    except RecursionError:
        text = f"<{_type_name(value)} nested too deeply>"
    except Exception:
        text = f"<unprintable {_type_name(value)}>"
    try:
        text = escape_surrogates(str.__str__(text))
    except Exception:
        text = f"<unprintable {_type_name(value)}>"
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def safe_str(value: Any) -> str:
    """``str(value)`` in valid UTF-8, or :func:`safe_repr` when ``str`` fails."""
    try:
        text = value if type(value) is str else str.__str__(str(value))
    except Exception:
        return safe_repr(value)
    return escape_surrogates(text)


def unusable(field: str, error: BaseException) -> InvalidParameterError:
    """An ``InvalidParameterError`` for ``field`` from an unexpected ``error``.

    The cause is kept without its traceback: a ``RecursionError``'s holds a
    thousand frames, and a failed outcome may be kept in the report.
    """
    if isinstance(error, RecursionError):
        reason = "is nested too deeply"
    else:
        try:
            detail = escape_surrogates(str.__str__(str(error)))
        except Exception:
            detail = ""
        if len(detail) > REPR_LIMIT:
            detail = detail[: REPR_LIMIT - 3] + "..."
        name = _type_name(error)
        reason = f"cannot be used ({name}: {detail})" if detail else f"cannot be used ({name})"
    result = InvalidParameterError(field, reason)
    result.__cause__ = error.with_traceback(None)
    return result
