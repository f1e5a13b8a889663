"""``import plivo_phlo_async`` loads what a request needs and nothing more: the
bulk package, CSV, SQLite, Redis, trio, uvloop and httpcore load on first use,
and the resources, the models (pydantic's machinery), the fast path (asyncio)
and opentelemetry with the first client (issue 19). Each check runs in a fresh
interpreter, the only place where ``sys.modules`` shows what one import loaded."""

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
#: Loaded by the first client (or the first of their public names read), not by the import.
WITH_THE_FIRST_CLIENT = [
    "plivo_phlo_async.resources",
    "plivo_phlo_async.types",
    "plivo_phlo_async._fastpath",
    "pydantic.main",
    "asyncio",
    "opentelemetry.trace",
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
    assert loaded & {*ON_FIRST_USE, *WITH_THE_FIRST_CLIENT} == set()


def test_the_first_client_loads_what_its_requests_need() -> None:
    code = (
        "import json, sys, plivo_phlo_async\n"
        "plivo_phlo_async.PhloClient('MAXXXXXXXXXXXXXXXXXX', 'token')\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    loaded = set(json.loads(run(code)))
    expected = set(WITH_THE_FIRST_CLIENT) - {"opentelemetry.trace"}  # the otel extra is optional
    assert expected <= loaded


def test_lazy_names_are_their_modules_own() -> None:
    from plivo_phlo_async import FastTransport, NodeAction, Phlo, PhloRun, ResponseHeaders
    from plivo_phlo_async._fastpath import FastTransport as Transport
    from plivo_phlo_async.resources import Phlo as PhloHandle
    from plivo_phlo_async.types import PhloRun as Run
    from plivo_phlo_async.types import ResponseHeaders as Headers
    from plivo_phlo_async.types._params import NodeAction as Action

    assert (FastTransport, NodeAction, Phlo, PhloRun, ResponseHeaders) == (
        Transport,
        Action,
        PhloHandle,
        Run,
        Headers,
    )


def test_the_subpackages_are_attributes_before_they_are_imported() -> None:
    code = (
        "import plivo_phlo_async as p; print(p.types.PhloRun.__name__, p.resources.Phlo.__name__)"
    )
    assert run(code).split() == ["PhloRun", "Phlo"]


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


@pytest.mark.parametrize("using", ["httpx", "httpcore"])
def test_a_mock_started_before_the_first_client_sees_its_requests(using: str) -> None:
    # The fast path loads with the first client, here inside the mock: what it
    # takes for httpx's own methods must still be httpx's, not the mock's.
    code = (
        "import asyncio, respx, plivo_phlo_async\n"
        "async def main():\n"
        f"    with respx.mock(using={using!r}) as mock:\n"
        "        route = mock.get(url__regex='/phlo/P$').respond(json={'phlo_id': 'P'})\n"
        "        async with plivo_phlo_async.PhloClient('MAXXXXXXXXXXXXXXXXXX', 't') as client:\n"
        "            print((await client.phlo('P').get()).phlo_id, route.call_count)\n"
        "asyncio.run(main())\n"
    )
    assert run(code).split() == ["P", "1"]
