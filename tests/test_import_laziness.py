"""``import plivo_phlo_async`` loads what a request needs and nothing more: the
bulk package, CSV, SQLite, Redis, trio, uvloop and httpcore load on first use
(issue 19). Each check runs in a fresh interpreter, the only place where
``sys.modules`` shows what one import loaded."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import plivo_phlo_async
import plivo_phlo_async.bulk

ON_FIRST_USE = [
    "plivo_phlo_async.bulk",
    "csv",
    "sqlite3",
    "redis",
    "trio",
    "uvloop",
    "httpcore",
    "psycopg",
]


def run(code: str) -> str:
    """What ``code`` prints, run in a fresh interpreter."""
    answer = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    )
    return answer.stdout


def test_importing_the_package_loads_none_of_the_optional_parts() -> None:
    code = "import json, sys, plivo_phlo_async; print(json.dumps(sorted(sys.modules)))"
    loaded = set(json.loads(run(code)))
    assert loaded & set(ON_FIRST_USE) == set()


def test_a_lazy_name_is_the_bulk_package_s_own() -> None:
    from plivo_phlo_async import JournalError

    assert JournalError is plivo_phlo_async.bulk.JournalError


def test_dir_lists_every_public_name_loaded_or_not() -> None:
    assert set(plivo_phlo_async.__all__) <= set(dir(plivo_phlo_async))


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        plivo_phlo_async.Nope  # noqa: B018


def test_journal_error_reports_the_package_when_imported_from_bulk_first() -> None:
    code = "from plivo_phlo_async.bulk import JournalError; print(JournalError.__module__)"
    assert run(code).strip() == "plivo_phlo_async"


def test_a_mock_of_httpcore_imported_after_the_package_is_still_seen() -> None:
    # httpcore loads after the SDK here (respx imports it): its pool's own
    # method must still be known, or the fast path would bypass respx's mock.
    code = (
        "import sys, plivo_phlo_async\n"
        "from plivo_phlo_async._fastpath._sender import httpx_is_patched\n"
        "assert 'httpcore' not in sys.modules\n"
        "import respx\n"
        "with respx.mock(using='httpcore'):\n"
        "    print(httpx_is_patched())\n"
        "print(httpx_is_patched())\n"
    )
    assert run(code).split() == ["True", "False"]
