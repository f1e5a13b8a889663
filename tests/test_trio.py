"""The client under trio: plain sync tests that call ``trio.run``.

respx patches httpx below the async library, so the same mocks serve trio; the
retry sleep goes through anyio, so waits work (and can be recorded) under trio.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
import sniffio
import trio

from plivo_phlo_async import (
    OutcomeUnknownError,
    PhloClient,
    RateLimitError,
    ServerOutcomeUnknownError,
)

PHLO_ID = "4c1a9f23-7f56-4879-bb80-db856e1e7701"
NODE_ID = "b4b48fc2-f47a-4a93-97c3-749ed9a40fa8"
SOURCE = "+14155550111"
AGENT = "+14155550100"
BASE = "https://phlorunner.plivo.com/v1"
NODE_URL = f"{BASE}/phlo/{PHLO_ID}/multi_party_call/{NODE_ID}"
CREATED = {"api_id": "a-1", "error": ""}


def test_endpoints_work_under_trio(auth_id: str, auth_token: str) -> None:
    async def main() -> dict[str, Any]:
        with respx.mock(assert_all_called=True) as mock:
            mock.get(f"{BASE}/phlo/{PHLO_ID}").respond(
                200,
                json={"api_id": "g-1", "phlo_id": PHLO_ID, "created_on": "2021-01-30 09:20:08"},
            )
            run = mock.post(f"{BASE}/account/{auth_id}/phlo/{PHLO_ID}").respond(
                201, json={"api_id": "run-1", "phlo_id": PHLO_ID, "message": "ok"}
            )
            node = mock.post(NODE_URL).respond(201, json=CREATED)
            member = mock.post(f"{NODE_URL}/members/{AGENT}").respond(201, json=CREATED)
            mock.post(f"https://api.plivo.com/v1/Account/{auth_id}/Call/").respond(
                201, json={"api_id": "c-1", "message": "call fired", "request_uuid": "u-1"}
            )
            async with PhloClient(auth_id, auth_token) as client:
                details = await client.phlo.get(PHLO_ID)
                result = await client.phlo(PHLO_ID).run(phoneMeNumber=AGENT)
                mpc = client.phlo(PHLO_ID).multi_party_call(NODE_ID)
                await mpc.warm_transfer(SOURCE, AGENT, role="customer")
                await mpc.member(AGENT).hold()
                created = await client.calls.create(SOURCE, AGENT, "https://example.com/a")
            return {
                "library": sniffio.current_async_library(),
                "details": details,
                "run_id": result.run_id,
                "run_body": json.loads(run.calls.last.request.content),
                "node_body": json.loads(node.calls.last.request.content),
                "member_body": json.loads(member.calls.last.request.content),
                "call_message": created.message,
                "requests": mock.calls.call_count,
                "closed": client.is_closed,
            }

    outcome = trio.run(main)

    assert outcome["library"] == "trio"
    assert outcome["details"].phlo_id == PHLO_ID
    assert outcome["details"].created_on.tzinfo is not None
    assert outcome["run_id"] == "run-1"
    assert outcome["run_body"] == {"phoneMeNumber": AGENT}
    assert outcome["node_body"] == {
        "action": "warm_transfer",
        "to": AGENT,
        "role": "customer",
        "trigger_source": SOURCE,
    }
    assert outcome["member_body"] == {"action": "hold"}
    assert outcome["call_message"] == "call fired"
    assert outcome["requests"] == 5  # one request per action
    assert outcome["closed"] is True


def test_a_429_is_retried_under_trio_with_the_real_sleep(auth_id: str, auth_token: str) -> None:
    async def main() -> int:
        with respx.mock() as mock:
            route = mock.post().mock(
                side_effect=[
                    httpx.Response(429, headers={"Retry-After": "0"}),
                    httpx.Response(201, json={"api_id": "run-1"}),
                ]
            )
            async with PhloClient(auth_id, auth_token) as client:
                result = await client.phlo(PHLO_ID).run()
            assert result.run_id == "run-1"
            return route.call_count

    assert trio.run(main) == 2


def test_retry_after_is_honoured_under_trio(
    auth_id: str, auth_token: str, sleeps: list[float]
) -> None:
    async def main() -> int:
        with respx.mock() as mock:
            route = mock.get().mock(
                side_effect=[
                    httpx.Response(429, headers={"Retry-After": "7"}),
                    httpx.Response(503),
                    httpx.Response(200, json={"phlo_id": PHLO_ID}),
                ]
            )
            async with PhloClient(auth_id, auth_token) as client:
                await client.phlo(PHLO_ID).get()
            return route.call_count

    assert trio.run(main) == 3
    assert sleeps[0] == 7.0
    assert 0.5 <= sleeps[1] <= 1.0  # the 503's backoff (second retry)


def test_exhausted_429s_raise_rate_limit_error_under_trio(
    auth_id: str, auth_token: str, sleeps: list[float]
) -> None:
    async def main() -> None:
        with respx.mock() as mock:
            mock.post().respond(429, headers={"Retry-After": "1"})
            async with PhloClient(auth_id, auth_token, max_retries=1) as client:
                await client.phlo(PHLO_ID).run()

    with pytest.raises(RateLimitError) as info:
        trio.run(main)

    assert info.value.retry_after == 1.0
    assert sleeps == [1.0]


def test_a_post_5xx_is_outcome_unknown_under_trio(
    auth_id: str, auth_token: str, sleeps: list[float]
) -> None:
    async def main() -> int:
        with respx.mock() as mock:
            route = mock.post().respond(503)
            async with PhloClient(auth_id, auth_token) as client:
                with pytest.raises(ServerOutcomeUnknownError) as info:
                    await client.phlo(PHLO_ID).multi_party_call(NODE_ID).call(SOURCE, AGENT)
            assert isinstance(info.value, OutcomeUnknownError)
            return route.call_count

    assert trio.run(main) == 1
    assert sleeps == []


def test_concurrent_requests_share_one_client_under_trio(auth_id: str, auth_token: str) -> None:
    async def main() -> list[str | None]:
        run_ids: list[str | None] = []
        with respx.mock() as mock:
            mock.post().mock(
                side_effect=lambda request: httpx.Response(
                    201, json={"api_id": f"run-{json.loads(request.content)['n']}"}
                )
            )
            async with PhloClient(auth_id, auth_token) as client:

                async def run(n: int) -> None:
                    result = await client.phlo(PHLO_ID).run(n=n)
                    run_ids.append(result.run_id)

                async with trio.open_nursery() as nursery:
                    for n in range(20):
                        nursery.start_soon(run, n)
        return run_ids

    run_ids = trio.run(main)

    assert sorted(map(str, run_ids)) == sorted(f"run-{n}" for n in range(20))
