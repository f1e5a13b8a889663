"""Public errors as users meet them outside a request: the module they report,
the tree drawn in ``_exceptions``'s docstring, and pickling across processes."""

from __future__ import annotations

import pickle
import re

import httpx
import pytest

import plivo_phlo_async
from plivo_phlo_async import (
    APIStatusError,
    InvalidParameterError,
    JournalError,
    NameResolutionError,
    PlivoError,
    RateLimitError,
    ServerOutcomeUnknownError,
    TimeoutOutcomeUnknownError,
    _exceptions,
)
from plivo_phlo_async.integrations.campaign import ChunkNotFinishedError, ManifestConflictError

PUBLIC_ERRORS = [
    value
    for name in plivo_phlo_async.__all__
    if isinstance(value := getattr(plivo_phlo_async, name), type)
    and issubclass(value, BaseException)
]


@pytest.mark.parametrize("cls", PUBLIC_ERRORS, ids=lambda cls: cls.__name__)
def test_a_public_error_reports_the_package_as_its_module(cls: type[BaseException]) -> None:
    assert cls.__module__ == "plivo_phlo_async"
    assert getattr(plivo_phlo_async, cls.__qualname__) is cls


def test_the_docstring_tree_names_every_public_error_under_its_real_base() -> None:
    drawn: list[str] = []
    stack: list[tuple[int, str]] = []  # (column of the name, the name)
    for line in (_exceptions.__doc__ or "").splitlines():
        match = re.search(r"(?:^    |\+-- )([A-Z][A-Za-z]+Error)\b", line)
        if match is None:
            continue
        column, name = match.start(1), match.group(1)
        while stack and stack[-1][0] >= column:
            stack.pop()
        if stack:
            cls, base = getattr(plivo_phlo_async, name), getattr(plivo_phlo_async, stack[-1][1])
            assert issubclass(cls, base), f"{name} is drawn under {stack[-1][1]}"
        stack.append((column, name))
        drawn.append(name)

    assert drawn[0] == "PlivoError"
    assert {cls.__name__ for cls in PUBLIC_ERRORS} <= set(drawn)


def _status_error(cls: type[APIStatusError], status: int) -> APIStatusError:
    request = httpx.Request("POST", "https://phlorunner.plivo.com/v1/account/MA/phlo/p")
    response = httpx.Response(status, request=request, content=b'{"error": "boom"}')
    return cls(f"POST failed with {status}", response=response, body={"error": "boom"})


@pytest.mark.parametrize(
    "error",
    [
        InvalidParameterError("to", "is not a phone number"),
        NameResolutionError("cannot resolve", host="phlorunner.plivo.com"),
        TimeoutOutcomeUnknownError("timed out", request=httpx.Request("POST", "https://x/y")),
        _status_error(ServerOutcomeUnknownError, 503),
        _status_error(RateLimitError, 429),
        JournalError("j.sqlite", "the journal is damaged"),
        ManifestConflictError("spring", "ids reused with another payload", ["7", "8"]),
        ChunkNotFinishedError("spring", 3, 12, "stopped: the rate limiter is unavailable"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_an_error_survives_pickling_with_its_details(error: PlivoError) -> None:
    back = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes

    assert type(back) is type(error)
    assert str(back) == str(error)
    assert back.outcome_unknown is error.outcome_unknown
    for name, value in vars(error).items():
        if isinstance(value, (httpx.Response, httpx.Request)):
            assert repr(getattr(back, name)) == repr(value)
        else:
            assert getattr(back, name) == value
