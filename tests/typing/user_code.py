"""User code, written the way the README shows it: ``tests/test_typing.py``
type-checks this file with ``mypy --strict`` and runs it against the emulator.

Not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

from collections.abc import Mapping

from typing_extensions import assert_type

from plivo_phlo_async import (
    ActionResult,
    ConferenceBridgeDetails,
    NodeDetails,
    PhloClient,
    PhloDetails,
    PhloRun,
    PhloRunResult,
    PlivoObject,
)


async def run_and_look_up(client: PhloClient, phlo_id: str, to: str) -> PhloRun:
    """The documented chain: run a PHLO, then look the run up by its id."""
    phlo = client.phlo(phlo_id)
    res = await phlo.run(to=to)
    assert_type(res.run_id, str)
    assert_type(res.api_id, str)
    return await phlo.get_run(res.run_id)


async def mute_then_unmute(
    client: PhloClient, phlo_id: str, node_id: str, address: str
) -> list[ActionResult]:
    bridge = client.phlo(phlo_id).conference_bridge(node_id)
    details = await bridge.get()
    assert_type(details, ConferenceBridgeDetails)
    member = bridge.member(address)
    return [await member.mute(), await member.unmute()]


async def mute_on_a_multi_party_call(
    client: PhloClient, phlo_id: str, node_id: str, address: str
) -> ActionResult:
    return await client.phlo(phlo_id).multi_party_call(node_id).member(address).mute()


async def any_node(client: PhloClient, phlo_id: str, node_type: str, node_id: str) -> NodeDetails:
    return await client.phlo(phlo_id).node(node_type, node_id).get()


def request_id(result: PlivoObject) -> tuple[int | None, str | None]:
    """The raw answer, without a second request."""
    headers: Mapping[str, str] = result.http_headers
    return result.http_status, headers.get("x-request-id")


async def tagged_run(client: PhloClient, phlo_id: str, to: str) -> PhloRunResult:
    """The escape hatches: per call, and through with_options for run()."""
    details = await client.phlo(phlo_id).get(
        extra_headers={"X-Request-Id": "r-1"}, extra_query={"debug": True, "n": [1, 2]}
    )
    assert_type(details, PhloDetails)
    tagged = client.with_options(
        extra_headers={"X-Campaign": "spring"}, extra_body={"campaign": "spring"}
    )
    return await tagged.phlo(phlo_id).run(to=to)
