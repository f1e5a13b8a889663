"""Testing your own PHLO code with the emulator's pytest fixtures.

Run it (one command; the fixtures start the emulator, no account or network needed):

    python -m pytest examples/pytest_suite

Needs pytest, pytest-asyncio (the async plugin these tests use: `pytestmark` below; with
anyio's plugin mark them `pytest.mark.anyio` instead) and the package with its `emulator`
extra. `phlo_emulator` is a fresh emulator per test, `phlo_client` a client wired to it
in-process, `phlo_emulator_server` the same emulator on a loopback socket; override
`phlo_emulator_config` (here) to seed your own PHLOs.
"""

from __future__ import annotations

import pytest

from plivo_phlo_async import (
    NotFoundError,
    OutcomeUnknownError,
    PhloClient,
    RateLimitError,
)
from plivo_phlo_async.emulator import EmulatorConfig, NodeSeed, PhloEmulator, PhloSeed

pytestmark = pytest.mark.asyncio

SUPPORT_PHLO = "support-phlo"
SUPPORT_CALL = "support-call"
AGENT, CUSTOMER, SUPERVISOR = "+14155550100", "+14155550111", "+14155550122"


@pytest.fixture
def phlo_emulator_config() -> EmulatorConfig:
    """Seed the emulator with this project's PHLO instead of the default ones."""
    return EmulatorConfig(
        phlos=(PhloSeed(SUPPORT_PHLO, name="Support", nodes=(NodeSeed(SUPPORT_CALL),)),)
    )


async def escalate(client: PhloClient, customer: str) -> None:
    """The code under test: call the customer, hold them, bring in a supervisor."""
    mpc = client.phlo(SUPPORT_PHLO).multi_party_call(SUPPORT_CALL)
    await mpc.call(AGENT, customer, role="customer")
    await mpc.member(customer).hold()
    await mpc.warm_transfer(AGENT, SUPERVISOR)


async def test_escalation_puts_the_customer_on_hold_and_the_supervisor_on(
    phlo_client: PhloClient, phlo_emulator: PhloEmulator
) -> None:
    await escalate(phlo_client, CUSTOMER)
    members = phlo_emulator.members(SUPPORT_PHLO, SUPPORT_CALL)
    assert members[CUSTOMER] == "on_hold"
    assert members[SUPERVISOR] == "warm_transfer_recipient"
    assert [a.kind for a in phlo_emulator.executed] == ["call", "hold", "warm_transfer"]


async def test_holding_someone_not_on_the_call_is_a_404(
    phlo_client: PhloClient, phlo_emulator: PhloEmulator
) -> None:
    with pytest.raises(NotFoundError):
        await phlo_client.phlo(SUPPORT_PHLO).multi_party_call(SUPPORT_CALL).member(CUSTOMER).hold()
    assert phlo_emulator.executed == []


async def test_a_call_dropped_after_it_ran_is_never_placed_twice(
    phlo_client: PhloClient, phlo_emulator: PhloEmulator
) -> None:
    phlo_emulator.inject("drop_after", method="POST")  # executed, then the connection drops
    with pytest.raises(OutcomeUnknownError):
        await escalate(phlo_client, CUSTOMER)
    assert [a.kind for a in phlo_emulator.executed] == ["call"]
    assert len([r for r in phlo_emulator.requests if r.method == "POST"]) == 1


@pytest.mark.phlo_emulator(rate_limit={"requests": 1, "window": 60})
async def test_the_account_limit_is_a_rate_limit_error(phlo_emulator: PhloEmulator) -> None:
    async with phlo_emulator.client(max_retries=0) as client:
        await client.phlo(SUPPORT_PHLO).run(to=CUSTOMER)
        with pytest.raises(RateLimitError):
            await client.phlo(SUPPORT_PHLO).run(to=CUSTOMER)
    assert len(phlo_emulator.executions("run")) == 1


async def test_over_a_real_socket(phlo_emulator_server, phlo_emulator: PhloEmulator) -> None:  # type: ignore[no-untyped-def]
    async with phlo_emulator_server.client() as client:
        run = await client.phlo(SUPPORT_PHLO).run(to=CUSTOMER)
    assert phlo_emulator.executions("run")[0].run_id == run.run_id
