"""How a refused argument must fail: ``InvalidParameterError`` (a ``ValueError``
and a ``PlivoError``) naming the field, before any request leaves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import respx

from plivo_phlo_async import InvalidParameterError, PlivoError


async def rejected(
    mock: respx.MockRouter, call: Callable[[], Awaitable[Any]], field: str
) -> InvalidParameterError:
    """Run ``call`` (a handle may raise while it is built) and check how it failed."""
    with pytest.raises(InvalidParameterError) as info:
        await call()
    error = info.value
    assert isinstance(error, ValueError)
    assert isinstance(error, PlivoError)
    assert error.field == field
    assert field in str(error)
    assert mock.calls.call_count == 0
    return error
